/**
 * Where a temporary id can appear in an operation, and how it is replaced: in the URL as a whole
 * token (path segment, query value), in the JSON body as a whole string (a value, an array item
 * or a key) — never inside a longer token or string.
 */

/** The length bounds of a temporary id (checked by `queue()`): shorter or longer tokens are never one. */
const minLength = 8;
const maxLength = 200;

/**
 * Visit every token of `url` and every string of bodyText (JSON) that could be a temporary id,
 * in order, in one pass over each text. @internal
 */
export function forEachCandidate(
  url: string,
  bodyText: string | undefined,
  visit: (candidate: string) => void,
): void {
  forEachSized(url, forEachUrlToken, visit);
  if (bodyText !== undefined) forEachSized(bodyText, forEachJsonString, visit);
}

/**
 * Replace temporary ids by server ids in a URL (percent-encoded) and in JSON text (as JSON
 * strings), in one pass: where {@link forEachCandidate} finds them, and nowhere else. A
 * replacement is never itself rewritten, and one temp id never matches inside another. @internal
 */
export function substituteTempIds(
  url: string,
  bodyText: string | undefined,
  replacements: ReadonlyMap<string, string>,
): { url: string; bodyText: string | undefined } {
  const query = url.indexOf('?');
  return {
    url: replaceTokens(url, forEachUrlToken, (token, start) => {
      const serverId = replacements.get(token);
      // A path segment `.` or `..` (URL parsing removes them, `%2E` forms too) would send the
      // request to the parent path — `DELETE /api/notes/..` is `DELETE /api/`: refused.
      if (isDotSegment(serverId) && (query < 0 || start < query))
        throw new DotSegmentError(serverId as string);
      return serverId === undefined ? undefined : encodeURIComponent(serverId);
    }),
    bodyText:
      bodyText === undefined
        ? undefined
        : replaceTokens(bodyText, forEachJsonString, (token) => {
            const serverId = replacements.get(token);
            return serverId === undefined ? undefined : JSON.stringify(serverId).slice(1, -1);
          }),
  };
}

/**
 * True for `.` and `..`: an id that, as a URL path segment, is a dot segment (encodeURIComponent
 * leaves dots alone, and `%2E` is a dot segment as well). @internal
 */
export function isDotSegment(id: unknown): boolean {
  return id === '.' || id === '..';
}

/** Thrown by {@link substituteTempIds}: a server id `.` or `..` would go into a URL path. @internal */
export class DotSegmentError extends Error {
  constructor(readonly serverId: string) {
    super(serverId); // (no prose: the caller words the operation's error)
  }
}

type Tokenizer = (text: string, visit: (start: number, end: number) => void) => void;

/** Visit the tokens of `text` (as `tokenize` finds them) whose length a temporary id can have. */
function forEachSized(
  text: string,
  tokenize: Tokenizer,
  visit: (token: string, start: number, end: number) => void,
): void {
  tokenize(text, (start, end) => {
    if (end - start >= minLength && end - start <= maxLength) visit(text.slice(start, end), start, end);
  });
}

function replaceTokens(
  text: string,
  tokenize: Tokenizer,
  replacement: (token: string, start: number) => string | undefined,
): string {
  let out = '';
  let copied = 0;
  forEachSized(text, tokenize, (token, start, end) => {
    const replaced = replacement(token, start);
    if (replaced === undefined) return;
    out += text.slice(copied, start) + replaced;
    copied = end;
  });
  return copied === 0 ? text : out + text.slice(copied);
}

/** `A-Z a-z 0-9 - . _ ~`: the characters of a temporary id (URL "unreserved" characters). */
const idChar = /[\w.~-]/;

/**
 * Visit each maximal run of temp-id characters in a URL (`start` inclusive, `end` exclusive):
 * a temp id matches only where it is a whole run, so the characters around it are anything but
 * `A-Z a-z 0-9 - . _ ~`. A percent-escape counts as the character it encodes: `%2F` or `%22`
 * separates, `%41` ("A") continues a run — and a run holding an escape is never visited (a temp
 * id is written without escapes). @internal
 */
export function forEachUrlToken(url: string, visit: (start: number, end: number) => void): void {
  let start = -1;
  let escaped = false;
  for (let i = 0; i <= url.length; ) {
    const percentEscape = url[i] === '%' ? /^%[\da-f]{2}/i.exec(url.slice(i, i + 3))?.[0] : undefined;
    const char = percentEscape ? String.fromCharCode(Number.parseInt(percentEscape.slice(1), 16)) : url[i];
    if (char !== undefined && idChar.test(char)) {
      if (start < 0) {
        start = i;
        escaped = false;
      }
      if (percentEscape) escaped = true;
    } else if (start >= 0) {
      if (!escaped) visit(start, i);
      start = -1;
    }
    i += percentEscape ? 3 : 1;
  }
}

/**
 * Visit the content of each JSON string in JSON text (`start` after the opening quote, `end` at
 * the closing one): values, array items and object keys alike. A temp id matches only a whole
 * string; text around it in the same string ("see tmp_…") or escaped quotes never match. @internal
 */
export function forEachJsonString(text: string, visit: (start: number, end: number) => void): void {
  let open = text.indexOf('"');
  while (open >= 0) {
    let close = text.indexOf('"', open + 1);
    while (close >= 0) {
      let backslashes = 0;
      while (text.charCodeAt(close - 1 - backslashes) === 92) backslashes++;
      if (backslashes % 2 === 0) break;
      close = text.indexOf('"', close + 1);
    }
    if (close < 0) return; // not JSON (cannot happen: bodies are serialised by queue())
    visit(open + 1, close);
    open = text.indexOf('"', close + 1);
  }
}
