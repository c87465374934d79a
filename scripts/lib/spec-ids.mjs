// Parsing of requirement ids in spec chapters (spec/README.md, "Requirement ids"). Shared by
// scripts/spec-coverage.mjs and the conformance harness's coverage matrix.
export const ID = /^\s*(?:[-*+]|\d+\.)?\s*\**\[([A-Z][A-Z0-9]*-[A-Z0-9]+-\d+)\]/;
export const LEVELS = [
  ['MUST', /\b(MUST(?: NOT)?|REQUIRED|SHALL(?: NOT)?)\b/],
  ['SHOULD', /\b(SHOULD(?: NOT)?|(?:NOT )?RECOMMENDED)\b/],
  ['MAY', /\b(MAY|OPTIONAL)\b/],
];

/** Parses one chapter into requirements: a list item or paragraph starting with `[ID]`. */
export function parseChapter(text, file) {
  const status = /^Status:\s*(\w+)/im.exec(text)?.[1]?.toLowerCase() ?? 'draft';
  const lines = text.split('\n');
  const reqs = [];
  let inCode = false;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*```/.test(lines[i])) inCode = !inCode;
    if (inCode) continue;
    const m = ID.exec(lines[i]);
    if (!m) continue;
    // The requirement runs until a blank line, a new list item, a heading or the next id.
    let body = lines[i];
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j];
      if (l.trim() === '' || /^\s*([-*+]|\d+\.)\s/.test(l) || /^#/.test(l) || ID.test(l)) break;
      body += ` ${l.trim()}`;
    }
    const level = LEVELS.find(([, re]) => re.test(body))?.[0] ?? 'INFO';
    const withdrawn = /\(withdrawn\)/i.test(body);
    reqs.push({ id: m[1], level, withdrawn, file, line: i + 1, text: body.replace(ID, '').trim() });
  }
  return { status, reqs };
}
