export interface Requirement {
  id: string;
  level: 'MUST' | 'SHOULD' | 'MAY' | 'INFO';
  withdrawn: boolean;
  file: string;
  line: number;
  text: string;
}
export const ID: RegExp;
export const LEVELS: Array<[string, RegExp]>;
export function parseChapter(text: string, file: string): { status: string; reqs: Requirement[] };
