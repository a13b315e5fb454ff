// Markdown for answers: marked for the syntax, highlight.js for code blocks, DOMPurify on the result (a model's
// output is untrusted text: no script, no handlers, no remote content survives). `renderMarkdown` renders a whole
// text at once; markdown-stream.ts renders a growing answer block by block with the same pieces.
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/common';
import { Lexer, Marked, type Token, type Tokens, type TokensList } from 'marked';

/**
 * Characters handed to each stage since the module loaded (source to the lexer and parser, code to the highlighter,
 * HTML to the sanitizer): tests bound the work per streamed delta with these instead of timing it.
 */
export const markdownWork = { lexed: 0, parsed: 0, highlighted: 0, sanitized: 0 };

/** Reference-style link definitions (`[label]: href "title"`), by normalized label, as marked's lexer keeps them. */
export type LinkDefinitions = TokensList['links'];

function highlightCode(text: string, lang: string | undefined): string {
  markdownWork.highlighted += text.length;
  const language = lang && hljs.getLanguage(lang) ? lang : undefined;
  const html = language ? hljs.highlight(text, { language }).value : hljs.highlightAuto(text).value;
  return `<pre><code class="hljs${language ? ` language-${language}` : ''}">${html}</code></pre>`;
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    code({ text, lang }) {
      return highlightCode(text, lang);
    },
  },
});

function sanitize(html: string): string {
  markdownWork.sanitized += html.length;
  // FORCE_BODY: HTML that starts with a <script> (removed) keeps its trailing whitespace, as it does after other
  // blocks: a block sanitized alone gives the same HTML as within the whole answer.
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORCE_BODY: true });
}

export function renderMarkdown(text: string): string {
  markdownWork.lexed += text.length;
  markdownWork.parsed += text.length;
  return sanitize(marked.parse(text, { async: false }));
}

/** Top-level tokens of `text`; `links` are definitions from text before it (a reference may use an earlier one). */
export function lexMarkdown(text: string, links: LinkDefinitions = {}): TokensList {
  markdownWork.lexed += text.length;
  const lexer = new Lexer(marked.defaults);
  Object.assign(lexer.tokens.links, links);
  return lexer.lex(text);
}

/** The link definitions among `tokens`, nested ones included, in order (the first definition of a label wins). */
export function linkDefinitions(tokens: readonly Token[]): Tokens.Def[] {
  const defs: Tokens.Def[] = [];
  marked.walkTokens(tokens as Token[], (t) => {
    if (t.type === 'def') defs.push(t as Tokens.Def);
  });
  return defs;
}

/** One top-level token as sanitized HTML: the same HTML its part of a whole-text render has. */
export function renderToken(token: Token): string {
  if (token.type === 'space' || token.type === 'def') return '';
  markdownWork.parsed += token.raw.length;
  return sanitize(marked.parser([token]));
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;
const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;

/** Whether `token` is a fenced code block whose closing fence has not arrived yet (it runs to the text's end). */
export function isOpenFence(token: Token): token is Tokens.Code {
  if (token.type !== 'code' || (token as Tokens.Code).codeBlockStyle === 'indented') return false;
  const lines = token.raw.replace(/\n+$/, '').split('\n');
  const open = FENCE_OPEN.exec(lines[0] ?? '')?.[1];
  const close = lines.length > 1 ? FENCE_LINE.exec(lines.at(-1)!)?.[1] : undefined;
  return !(open && close && close[0] === open[0] && close.length >= open.length);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A code block still being written: plain escaped text, highlighted once its fence closes. */
export function renderOpenFence(token: Tokens.Code): string {
  markdownWork.parsed += token.raw.length;
  const text = token.text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
  return sanitize(`<pre><code class="hljs">${text}</code></pre>`);
}
