import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
const cases = JSON.parse(process.argv[2]);
for (const c of cases) {
  await page.setContent(`<style>body{margin:0} archive{display:block;position:relative;overflow:hidden;width:${c.w}px;height:${c.h}px;font-size:0;line-height:0} stream{display:block;margin:0} ${c.css}</style><archive>${c.classes.map((k, i) => `<stream id="s${i}" class="${k}"></stream>`).join('')}</archive>`);
  const r = await page.evaluate(() => [...document.querySelectorAll('stream')].map((e) => { const b = e.getBoundingClientRect(); return `${e.id}:${b.x},${b.y},${b.width}x${b.height}`; }).join('  '));
  console.log(c.css, '\n   ', r);
}
await browser.close();
