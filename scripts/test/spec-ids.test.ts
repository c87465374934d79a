import { describe, expect, it } from 'vitest';
import { parseChapter } from '../lib/spec-ids.mjs';

const chapter = `# 99 Example
Status: stable

## 1. Frames
- [EX-FRAME-1] A receiver MUST reject a frame longer than 65,535 bytes
  and MUST close the channel.
- [EX-FRAME-2] A sender SHOULD coalesce small frames.
[EX-FRAME-3] A receiver MAY log the frame.

\`\`\`
[EX-FRAME-9] inside a code block: not a requirement MUST
\`\`\`
- [EX-FRAME-4] (withdrawn) A sender MUST pad frames.
`;

describe('spec requirement parser', () => {
  it('finds each id with its level, status and continuation lines', () => {
    const { status, reqs } = parseChapter(chapter, 'spec/99-example.md');
    expect(status).toBe('stable');
    expect(reqs.map((r: { id: string; level: string }) => [r.id, r.level])).toEqual([
      ['EX-FRAME-1', 'MUST'],
      ['EX-FRAME-2', 'SHOULD'],
      ['EX-FRAME-3', 'MAY'],
      ['EX-FRAME-4', 'MUST'],
    ]);
    expect(reqs[0]?.text).toContain('MUST close the channel');
    expect(reqs[3]?.withdrawn).toBe(true);
  });
  it('treats a chapter without a status line as a draft', () => {
    expect(parseChapter('# x\n- [EX-A-1] MUST', 'x').status).toBe('draft');
  });
});
