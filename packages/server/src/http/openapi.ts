import { ERROR_TABLE } from './errors.js';
import type { AdminRoute, Route } from './route-table.js';
import { PARAM_PATTERNS } from './route-table.js';

/**
 * The OpenAPI 3.1 description served at `/openapi.json`, built from the route table so the two
 * cannot drift apart.
 */
export function buildOpenApi(routes: readonly Route[], adminRoutes: readonly AdminRoute[] = []): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...routes, ...adminRoutes]) {
    const admin = (adminRoutes as readonly unknown[]).includes(route);
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
    const errorStatuses = [...new Set(Object.values(ERROR_TABLE).map((e) => e.status))].sort();
    const responses: Record<string, unknown> = {
      [String(route.success)]: {
        description: 'Success',
        ...(route.success === 204 ? {} : { content: { [route.path.endsWith(':streamId') && route.method === 'GET' ? 'text/plain' : 'application/json']: { schema: { type: route.path === '/session/create' ? 'array' : 'object' } } } }),
      },
    };
    for (const status of errorStatuses) responses[String(status)] = { $ref: '#/components/responses/Error' };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      summary: route.summary,
      // The operator token may call every project's routes (the path names the project); the admin ones need it.
      security: admin ? [{ operatorToken: [] }] : route.path.includes(':key') ? [{ opentokJwt: [] }, { applicationJwt: [] }, { partnerAuth: [] }, { operatorToken: [] }] : [{ opentokJwt: [] }, { applicationJwt: [] }, { partnerAuth: [] }],
      ...(admin || route.path.endsWith('/session') || route.path.includes('/webhook/deliveries') ? { tags: ['Admin API'] } : {}),
      parameters: params.map((name) => ({
        name: name === 'key' ? 'key' : name,
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: PARAM_PATTERNS[name]?.pattern.source },
        description: name === 'key' ? 'API key; must equal the JWT iss' : PARAM_PATTERNS[name]?.what,
      })),
      ...('body' in route && route.body
        ? {
            requestBody: {
              required: false,
              content: {
                [route.path === '/session/create' ? 'application/x-www-form-urlencoded' : 'application/json']: {
                  schema: { type: 'object', properties: Object.fromEntries(Object.entries(route.body).map(([k, d]) => [k, { description: d }])) },
                },
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tokhost REST API',
      version: '2',
      description: 'The OpenTok server REST API as served by Tokhost. Errors are {code, message, description}; see docs/rest-api.md and docs/errors.md.',
    },
    paths,
    components: {
      securitySchemes: {
        opentokJwt: { type: 'apiKey', in: 'header', name: 'X-OPENTOK-AUTH', description: 'HS256 JWT signed with the project secret: iss = API key, ist = project, iat, exp ≤ iat + 300' },
        applicationJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'RS256 JWT signed with an application private key: application_id, iat, exp (docs/applications.md); the path names the application ID' },
        partnerAuth: { type: 'apiKey', in: 'header', name: 'X-TB-PARTNER-AUTH', description: 'Legacy: <apiKey>:<apiSecret>' },
        operatorToken: { type: 'http', scheme: 'bearer', description: 'The operator token (printed by `tokhost serve` at first start, or `tokhost operator-token --reset`): every project, and the /v2/admin routes (docs/rest-api.md, Admin API)' },
      },
      responses: {
        Error: {
          description: 'Error',
          content: {
            'application/json': {
              schema: { type: 'object', required: ['code', 'message', 'description'], properties: { code: { type: 'integer' }, message: { type: 'string' }, description: { type: 'string' } } },
            },
          },
        },
      },
    },
  };
}
