/** Shows a message in the console's status line (`error`: in red). */
export type Notify = (message: string, error: boolean) => void;

/** The predefined layouts an archive or broadcast may start with (docs/archiving.md). */
export const LAYOUTS = ['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation'] as const;
