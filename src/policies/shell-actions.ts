// Turns a shell command line (what an agent runs, e.g. through Claude Code's Bash tool) into policy actions.
// Pure: no I/O, no process state (paths are resolved with path.posix against the given worktree only).
//
// `shellActions("git push --force origin main")` gives
//   {"action_type": "shell", "command": "...", "commands": [{"program": "git", "args": [...]}]}
//   {"action_type": "git_push", "remote": "origin", "branch": "main", "force": true, ...}
// Always exactly one `shell` action (the whole line, and every simple command found in it), then one action
// per recognised operation:
//   - git: `git_push` (one per refspec; `force` for --force, -f, --force-with-lease, --mirror or a
//     `+refspec`), `git_reset` (`hard`, `mode`), `git_commit` (`amend`, `no_verify`, `all`, `message`),
//     `git_clean`, `git_branch` (`delete`, `force`), and `git_<subcommand>` with `args` for any other;
//   - `rm`: `file_delete` with `recursive`, `force`, `paths` and `outside_worktree`;
//   - writes: `file_write` with `path`, `via` and `outside_worktree` for output redirections (`>`, `>>`,
//     `&>`, …), `tee`, the destination of `cp`/`mv`/`install`, and `sed -i`.
// Commands are found through `;`, `&&`, `||`, pipes, subshells, `$(…)`, backticks, `bash -c '…'`, `eval`,
// a heredoc fed to a shell, and wrappers (`sudo`, `env`, `nohup`, `timeout`, `xargs`, …); `cd` is followed
// so that relative paths resolve where they will run.
//
// This is a guardrail against mistakes, not a sandbox: a determined agent can hide a command (a script file,
// a variable holding the program name). Where a path cannot be known statically (`$VAR`, `~`, `$(…)`, after a
// `cd` to an unknown place) it counts as outside the worktree, so safety policies fail closed.
import path from "node:path";

const posix = path.posix;

export type ShellAction = Record<string, unknown>;

export interface ShellContext {
  /** Absolute path of the agent's worktree. Without it, the directory the command starts in stands for it. */
  worktree?: string | null;
  /** Absolute directory the command starts in (default: the worktree). */
  cwd?: string | null;
}

const MAX_NESTING = 6;
const MAX_COMMANDS = 500;

interface Word {
  text: string;
  /** The value depends on an expansion ($VAR, $(…), backticks), so the text is not what will run. */
  dynamic: boolean;
}

interface Redirect {
  op: string;
  fd: string | null;
  target: Word | null;
  heredoc?: { delim: string; strip: boolean; body: string | null };
}

type Token = { t: "word"; w: Word } | { t: "op"; op: string } | { t: "redir"; r: Redirect };

export interface ParsedCommand {
  program: string;
  args: Word[];
  redirects: Redirect[];
}

// ---------------------------------------------------------------------------------------------------------
// Lexing

/** Index of the `)` closing the `(` at `open`, skipping quotes; `s.length` when it is never closed. */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    const c = s[j];
    if (c === "\\") j++;
    else if (c === "'") {
      const e = s.indexOf("'", j + 1);
      j = e < 0 ? s.length : e;
    } else if (c === '"') {
      j++;
      while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return j;
  }
  return s.length;
}

class Lexer {
  private i = 0;
  private cur: (Word & { quoted: boolean }) | null = null;
  private awaitingDelim: Redirect | null = null;
  private pendingHeredocs: Redirect[] = [];
  readonly tokens: Token[] = [];
  /** Command substitutions found anywhere in the line: they run too. */
  readonly subs: string[] = [];

  constructor(private readonly s: string) {}

  run(): Token[] {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === " " || c === "\t" || c === "\r") {
        this.endWord();
        this.i++;
      } else if (c === "\\" && s[this.i + 1] === "\n") {
        this.i += 2; // line continuation: joins the lines, starts no word
      } else if (c === "\n") {
        this.endWord();
        this.op("\n", 1);
        this.readHeredocs();
      } else if (c === "#" && this.cur === null) {
        const e = s.indexOf("\n", this.i);
        this.i = e < 0 ? s.length : e;
      } else if (c === ";") {
        this.endWord();
        this.op(";", s[this.i + 1] === ";" || s[this.i + 1] === "&" ? 2 : 1);
      } else if (c === "&") {
        this.endWord();
        if (s[this.i + 1] === "&") this.op("&&", 2);
        else if (s[this.i + 1] === ">") this.redirect(s[this.i + 2] === ">" ? "&>>" : "&>", null);
        else this.op("&", 1);
      } else if (c === "|") {
        this.endWord();
        this.op(
          s[this.i + 1] === "|" ? "||" : s[this.i + 1] === "&" ? "|&" : "|",
          s[this.i + 1] === "|" || s[this.i + 1] === "&" ? 2 : 1,
        );
      } else if (c === "(" || c === ")") {
        this.endWord();
        this.op(c, 1);
      } else if ((c === "<" || c === ">") && s[this.i + 1] === "(") {
        // Process substitution: its command runs.
        const end = closingParen(s, this.i + 1);
        this.subs.push(s.slice(this.i + 2, end));
        const w = this.word();
        w.text += s.slice(this.i, end + 1);
        w.dynamic = true;
        this.i = end + 1;
      } else if (c === "<" || c === ">") {
        let fd: string | null = null;
        if (this.cur && !this.cur.quoted && /^[0-9]+$/.test(this.cur.text)) {
          fd = this.cur.text;
          this.cur = null;
        } else this.endWord();
        const ops = ["<<<", "<<-", ">>", ">|", ">&", "<<", "<&", "<>", ">", "<"];
        this.redirect(
          ops.find((o) => s.startsWith(o, this.i))!,
          fd,
        );
      } else this.wordChar();
    }
    this.endWord();
    return this.tokens;
  }

  private word(): Word & { quoted: boolean } {
    return (this.cur ??= { text: "", dynamic: false, quoted: false });
  }

  private endWord(): void {
    if (this.cur === null) return;
    const w: Word = { text: this.cur.text, dynamic: this.cur.dynamic };
    this.tokens.push({ t: "word", w });
    if (this.awaitingDelim) {
      this.awaitingDelim.heredoc!.delim = w.text;
      this.pendingHeredocs.push(this.awaitingDelim);
      this.awaitingDelim = null;
    }
    this.cur = null;
  }

  private op(op: string, len: number): void {
    this.tokens.push({ t: "op", op });
    this.i += len;
  }

  private redirect(op: string, fd: string | null): void {
    const r: Redirect = { op, fd, target: null };
    if (op === "<<" || op === "<<-") {
      r.heredoc = { delim: "", strip: op === "<<-", body: null };
      this.awaitingDelim = r;
    }
    this.tokens.push({ t: "redir", r });
    this.i += op.length;
  }

  /** After a newline: the bodies of the heredocs opened on the line just ended. */
  private readHeredocs(): void {
    const s = this.s;
    for (const r of this.pendingHeredocs) {
      const lines: string[] = [];
      while (this.i < s.length) {
        const e = s.indexOf("\n", this.i);
        const end = e < 0 ? s.length : e;
        const line = s.slice(this.i, end);
        this.i = end + 1;
        if ((r.heredoc!.strip ? line.replace(/^\t+/, "") : line) === r.heredoc!.delim) break;
        lines.push(line);
      }
      r.heredoc!.body = lines.join("\n");
    }
    this.pendingHeredocs = [];
  }

  private wordChar(): void {
    const s = this.s;
    const c = s[this.i]!;
    const w = this.word();
    if (c === "\\") {
      w.text += s[this.i + 1] ?? "";
      w.quoted = true;
      this.i += 2;
    } else if (c === "'") {
      const e = s.indexOf("'", this.i + 1);
      const end = e < 0 ? s.length : e;
      w.text += s.slice(this.i + 1, end);
      w.quoted = true;
      this.i = end + 1;
    } else if (c === '"') {
      this.doubleQuoted(w);
    } else if (c === "`") {
      this.backtick(w);
    } else if (c === "$") {
      this.dollar(w, false);
    } else {
      w.text += c;
      this.i++;
    }
  }

  private backtick(w: Word & { quoted: boolean }): void {
    const s = this.s;
    let j = this.i + 1;
    let inner = "";
    while (j < s.length && s[j] !== "`") {
      if (s[j] === "\\" && j + 1 < s.length) {
        inner += s[j + 1];
        j += 2;
      } else inner += s[j++];
    }
    this.subs.push(inner);
    w.text += s.slice(this.i, j + 1);
    w.dynamic = true;
    this.i = j + 1;
  }

  private dollar(w: Word & { quoted: boolean }, inDoubleQuotes: boolean): void {
    const s = this.s;
    const n = s[this.i + 1];
    if (n === "'" && !inDoubleQuotes) {
      // ANSI-C quoting: $'…' with backslash escapes.
      let j = this.i + 2;
      const map: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        e: "\x1b",
        a: "\x07",
        "\\": "\\",
        "'": "'",
        '"': '"',
      };
      while (j < s.length && s[j] !== "'") {
        if (s[j] === "\\" && j + 1 < s.length) {
          w.text += map[s[j + 1]!] ?? s[j + 1];
          j += 2;
        } else w.text += s[j++];
      }
      this.i = j + 1;
      w.quoted = true;
    } else if (n === "(") {
      const end = closingParen(s, this.i + 1);
      // $((…)) is arithmetic; anything else is a command substitution.
      if (s[this.i + 2] !== "(") this.subs.push(s.slice(this.i + 2, end));
      w.text += s.slice(this.i, end + 1);
      w.dynamic = true;
      this.i = end + 1;
    } else if (n === "{") {
      const e = s.indexOf("}", this.i + 2);
      const end = e < 0 ? s.length : e;
      w.text += s.slice(this.i, end + 1);
      w.dynamic = true;
      this.i = end + 1;
    } else if (n !== undefined && /[A-Za-z_]/.test(n)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.i + 1, this.i + 256))!;
      w.text += `$${m[0]}`;
      w.dynamic = true;
      this.i += 1 + m[0].length;
    } else if (n !== undefined && /[0-9@*#?$!-]/.test(n)) {
      w.text += `$${n}`;
      w.dynamic = true;
      this.i += 2;
    } else {
      w.text += "$";
      this.i++;
    }
  }

  private doubleQuoted(w: Word & { quoted: boolean }): void {
    const s = this.s;
    w.quoted = true;
    this.i++;
    while (this.i < s.length && s[this.i] !== '"') {
      const c = s[this.i]!;
      if (c === "\\") {
        const n = s[this.i + 1];
        if (n === "\n") {
          /* line continuation */
        } else if (n === "$" || n === "`" || n === '"' || n === "\\") w.text += n;
        else w.text += `\\${n ?? ""}`;
        this.i += 2;
      } else if (c === "`") this.backtick(w);
      else if (c === "$") this.dollar(w, true);
      else {
        w.text += c;
        this.i++;
      }
    }
    this.i++;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Simple commands

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;
const PREFIX_WORDS = new Set(["!", "{", "if", "then", "else", "elif", "do", "while", "until"]);
const NOT_COMMANDS = new Set(["}", "fi", "done", "esac", "for", "case", "select", "function", "in", ";;", "[[", "]]"]);
const SHELLS = new Set(["bash", "sh", "zsh", "dash", "ksh", "ash", "mksh"]);

/** Wrapper programs: how many words their own options take (value options), before the wrapped command. */
const WRAPPERS: Record<
  string,
  { valueShort: string; valueLong: string[]; positional?: number; assignments?: boolean }
> = {
  sudo: {
    valueShort: "ughpCDrtUT",
    valueLong: [
      "user",
      "group",
      "host",
      "prompt",
      "chdir",
      "role",
      "type",
      "other-user",
      "close-from",
      "command-timeout",
    ],
  },
  doas: { valueShort: "uC", valueLong: [] },
  env: { valueShort: "uCS", valueLong: ["unset", "chdir", "split-string"], assignments: true },
  nohup: { valueShort: "", valueLong: [] },
  command: { valueShort: "", valueLong: [] },
  builtin: { valueShort: "", valueLong: [] },
  exec: { valueShort: "a", valueLong: [] },
  time: { valueShort: "fo", valueLong: ["format", "output"] },
  nice: { valueShort: "n", valueLong: ["adjustment"] },
  ionice: { valueShort: "cnp", valueLong: ["class", "classdata", "pid"] },
  timeout: { valueShort: "sk", valueLong: ["signal", "kill-after"], positional: 1 },
  stdbuf: { valueShort: "ioe", valueLong: ["input", "output", "error"] },
  xargs: {
    valueShort: "ILnPsdEa",
    valueLong: ["replace", "max-lines", "max-args", "max-procs", "max-chars", "delimiter", "eof", "arg-file"],
  },
  unbuffer: { valueShort: "", valueLong: [] },
};

function basename(text: string): string {
  const b = text.replace(/\/+$/, "").split("/").pop();
  return b === undefined || b === "" ? text : b;
}

/** Strips assignments, reserved words and wrappers; null when what is left runs no program. */
function unwrap(words: Word[]): Word[] | null {
  let w = words;
  for (let guard = 0; guard < 32 && w.length > 0; guard++) {
    const first = w[0]!;
    if (ASSIGNMENT.test(first.text)) {
      w = w.slice(1);
      continue;
    }
    if (PREFIX_WORDS.has(first.text)) {
      w = w.slice(1);
      continue;
    }
    if (NOT_COMMANDS.has(first.text)) return null;
    const name = basename(first.text);
    const spec = WRAPPERS[name];
    if (!spec || first.dynamic) break;
    // `command -v git` looks a program up; it does not run it.
    if (name === "command" && w.slice(1).some((x) => x.text === "-v" || x.text === "-V")) return null;
    let k = 1;
    while (k < w.length) {
      const t = w[k]!.text;
      if (t === "--") {
        k++;
        break;
      }
      if (spec.assignments && ASSIGNMENT.test(t)) {
        k++;
        continue;
      }
      if (t.startsWith("--") && t.length > 2) {
        const long = t.slice(2);
        k += !long.includes("=") && spec.valueLong.includes(long) ? 2 : 1;
        continue;
      }
      if (t.startsWith("-") && t.length > 1) {
        // A value option takes the rest of its bundle, or the next word when it ends the bundle
        // (`nice -10` is a number, not a bundle).
        let takesNext = false;
        if (!/^-[0-9]+$/.test(t)) {
          for (let ci = 1; ci < t.length; ci++) {
            if (spec.valueShort.includes(t[ci]!)) {
              takesNext = ci === t.length - 1;
              break;
            }
          }
        }
        k += takesNext ? 2 : 1;
        continue;
      }
      break;
    }
    k += spec.positional ?? 0;
    w = w.slice(k);
  }
  return w.length > 0 ? w : null;
}

interface ParseState {
  out: ParsedCommand[];
}

function parseInto(line: string, depth: number, st: ParseState): void {
  if (depth > MAX_NESTING || st.out.length >= MAX_COMMANDS) return;
  const lx = new Lexer(line);
  const tokens = lx.run();
  // Substitutions run before the command that holds them.
  for (const sub of lx.subs) parseInto(sub, depth + 1, st);
  let words: Word[] = [];
  let redirects: Redirect[] = [];
  // What the previous command of a pipeline prints, when the line says it (`cat <<EOF | bash`).
  let piped: string | null = null;
  const flush = (op: string | null) => {
    let out: string | null = null;
    if (words.length > 0 || redirects.length > 0) out = addCommand(words, redirects, piped, depth, st);
    piped = op === "|" || op === "|&" ? out : null;
    words = [];
    redirects = [];
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.t === "op") flush(t.op);
    else if (t.t === "redir") {
      const next = tokens[k + 1];
      if (next?.t === "word") {
        t.r.target = next.w;
        k++;
      }
      redirects.push(t.r);
    } else words.push(t.w);
  }
  flush(null);
}

/** Text a command's redirections feed to its stdin (heredoc body or here-string), when there is one. */
function stdinText(redirects: readonly Redirect[]): string | null {
  for (const r of redirects) {
    if (r.heredoc?.body != null) return r.heredoc.body;
    if (r.op === "<<<" && r.target) return r.target.text;
  }
  return null;
}

/** Records one simple command (and the code it hands to an interpreter); returns what it prints, if known. */
function addCommand(
  rawWords: Word[],
  redirects: Redirect[],
  piped: string | null,
  depth: number,
  st: ParseState,
): string | null {
  if (st.out.length >= MAX_COMMANDS) return null;
  const words = unwrap(rawWords);
  if (words === null) {
    // Redirections without a command (`> file`) still write.
    if (redirects.length > 0) st.out.push({ program: "", args: [], redirects });
    return null;
  }
  const head = words[0]!;
  const program = head.dynamic ? head.text : basename(head.text);
  const args = words.slice(1);
  st.out.push({ program, args, redirects });
  // Code handed to another interpreter runs too.
  if (SHELLS.has(program)) {
    let sawC = false;
    let script: string | null = null;
    let file = false;
    for (const a of args) {
      if (/^[-+][A-Za-z]+$/.test(a.text)) {
        if (a.text.startsWith("-") && a.text.includes("c")) sawC = true;
        continue;
      }
      if (sawC) script = a.text;
      else file = true; // `bash script.sh`: its stdin is data for the script, not shell code
      break;
    }
    const code = script ?? (file ? null : (stdinText(redirects) ?? piped));
    if (code !== null) parseInto(code, depth + 1, st);
    return null;
  }
  if (program === "eval" && args.length > 0) parseInto(args.map((a) => a.text).join(" "), depth + 1, st);
  if (program === "cat") return stdinText(redirects);
  if (program === "echo" || program === "printf") return args.map((a) => a.text).join(" ");
  return null;
}

/** The simple commands a shell line runs, in order, wrappers removed. Exported for tests. */
export function parseShell(line: string): ParsedCommand[] {
  const st: ParseState = { out: [] };
  parseInto(line, 0, st);
  return st.out;
}

// ---------------------------------------------------------------------------------------------------------
// Options

interface OptSpec {
  /** Short options that take a value (rest of the bundle, else the next word). */
  valueShort?: string;
  /** Long options that take a value (`--x=v` or `--x v`). */
  valueLong?: readonly string[];
  /** Every long option, so unambiguous abbreviations (`--forc` → `--force`) are understood as git does. */
  longs?: readonly string[];
}

interface Scanned {
  opts: Array<{ name: string; value: string | null }>;
  positionals: string[];
  /** Positionals after `--`. */
  rest: string[];
}

function expandLong(name: string, longs: readonly string[]): string {
  if (longs.includes(name)) return name;
  const neg = name.startsWith("no-") ? "no-" : "";
  const base = neg ? name.slice(3) : name;
  if (neg && longs.includes(base)) return name;
  const hits = longs.filter((l) => l.startsWith(base));
  return hits.length === 1 ? neg + hits[0]! : name;
}

function scanOptions(args: readonly string[], spec: OptSpec): Scanned {
  const out: Scanned = { opts: [], positionals: [], rest: [] };
  const valueShort = spec.valueShort ?? "";
  const valueLong = spec.valueLong ?? [];
  const longs = spec.longs ?? [];
  let dashdash = false;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (dashdash) {
      out.rest.push(a);
    } else if (a === "--") {
      dashdash = true;
    } else if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = expandLong(eq < 0 ? a.slice(2) : a.slice(2, eq), longs);
      let value: string | null = eq < 0 ? null : a.slice(eq + 1);
      if (value === null && valueLong.includes(name)) value = args[++k] ?? null;
      out.opts.push({ name: `--${name}`, value });
    } else if (a.startsWith("-") && a.length > 1) {
      for (let ci = 1; ci < a.length; ci++) {
        const ch = a[ci]!;
        if (valueShort.includes(ch)) {
          const rest = a.slice(ci + 1);
          out.opts.push({ name: `-${ch}`, value: rest !== "" ? rest : (args[++k] ?? null) });
          break;
        }
        out.opts.push({ name: `-${ch}`, value: null });
      }
    } else out.positionals.push(a);
  }
  return out;
}

/** Last-one-wins boolean over options: `on` names set it, `off` names clear it. */
function flag(s: Scanned, on: readonly string[], off: readonly string[] = []): boolean {
  let v = false;
  for (const o of s.opts) {
    if (on.includes(o.name)) v = true;
    else if (off.includes(o.name)) v = false;
  }
  return v;
}

function values(s: Scanned, names: readonly string[]): string[] {
  return s.opts.filter((o) => names.includes(o.name) && o.value !== null).map((o) => o.value!);
}

// ---------------------------------------------------------------------------------------------------------
// git

const GIT_GLOBAL_VALUE = new Set([
  "-C",
  "-c",
  "--git-dir",
  "--work-tree",
  "--namespace",
  "--super-prefix",
  "--config-env",
  "--list-cmds",
]);

const PUSH_LONGS = [
  "all",
  "branches",
  "mirror",
  "delete",
  "tags",
  "dry-run",
  "porcelain",
  "force",
  "force-with-lease",
  "force-if-includes",
  "repo",
  "set-upstream",
  "thin",
  "receive-pack",
  "exec",
  "push-option",
  "signed",
  "atomic",
  "verify",
  "follow-tags",
  "recurse-submodules",
  "quiet",
  "verbose",
  "progress",
  "prune",
  "ipv4",
  "ipv6",
];
const RESET_LONGS = [
  "hard",
  "soft",
  "mixed",
  "merge",
  "keep",
  "quiet",
  "patch",
  "pathspec-from-file",
  "pathspec-file-nul",
  "recurse-submodules",
  "intent-to-add",
  "refresh",
];
const COMMIT_LONGS = [
  "all",
  "patch",
  "reuse-message",
  "reedit-message",
  "fixup",
  "squash",
  "reset-author",
  "short",
  "branch",
  "porcelain",
  "long",
  "null",
  "file",
  "author",
  "date",
  "message",
  "template",
  "signoff",
  "trailer",
  "verify",
  "allow-empty",
  "allow-empty-message",
  "cleanup",
  "edit",
  "amend",
  "include",
  "only",
  "pathspec-from-file",
  "pathspec-file-nul",
  "untracked-files",
  "verbose",
  "quiet",
  "dry-run",
  "status",
  "gpg-sign",
  "interactive",
];
const CLEAN_LONGS = ["force", "interactive", "dry-run", "quiet", "exclude"];
const BRANCH_LONGS = [
  "delete",
  "force",
  "move",
  "copy",
  "list",
  "all",
  "remotes",
  "set-upstream-to",
  "unset-upstream",
  "track",
  "contains",
  "merged",
  "no-merged",
  "points-at",
  "sort",
  "format",
  "color",
  "column",
  "show-current",
  "edit-description",
  "verbose",
  "quiet",
  "create-reflog",
];

/** The branch a refspec's destination names: `refs/heads/x` → `x`; `HEAD` (the current branch) → null. */
function pushedBranch(refspec: string): string | null {
  const r = refspec.startsWith("+") ? refspec.slice(1) : refspec;
  const colon = r.indexOf(":");
  let dst = colon < 0 ? r : r.slice(colon + 1);
  if (dst === "") dst = colon < 0 ? "" : r.slice(0, colon);
  if (dst === "" || dst === "HEAD" || dst === "@") return null;
  return dst.startsWith("refs/heads/") ? dst.slice("refs/heads/".length) : dst;
}

function gitActions(args: readonly string[]): ShellAction[] {
  let k = 0;
  while (k < args.length && args[k]!.startsWith("-")) {
    const a = args[k]!;
    k += GIT_GLOBAL_VALUE.has(a) ? 2 : 1;
  }
  const sub = args[k];
  if (sub === undefined) return [];
  const rest = args.slice(k + 1);
  const base = { args: [...rest] };
  switch (sub) {
    case "push": {
      const s = scanOptions(rest, {
        valueShort: "o",
        valueLong: ["repo", "push-option", "receive-pack", "exec", "recurse-submodules"],
        longs: PUSH_LONGS,
      });
      const mirror = flag(s, ["--mirror"]);
      const force = flag(s, ["-f", "--force"], ["--no-force"]);
      const lease = flag(s, ["--force-with-lease"], ["--no-force-with-lease"]);
      const del = flag(s, ["-d", "--delete"]);
      const remote = s.positionals[0] ?? values(s, ["--repo"]).at(-1) ?? null;
      const refspecs = [...s.positionals.slice(1), ...s.rest];
      const common = {
        action_type: "git_push",
        remote,
        force_with_lease: lease,
        all: flag(s, ["--all", "--branches"]),
        mirror,
        tags: flag(s, ["--tags"]),
        dry_run: flag(s, ["-n", "--dry-run"]),
        set_upstream: flag(s, ["-u", "--set-upstream"]),
      };
      if (refspecs.length === 0)
        return [{ ...common, branch: null, refspec: null, force: force || lease || mirror, delete: del, ...base }];
      return refspecs.map((r) => ({
        ...common,
        branch: pushedBranch(r),
        refspec: r,
        force: force || lease || mirror || r.startsWith("+"),
        delete: del || r.startsWith(":"),
        ...base,
      }));
    }
    case "reset": {
      const s = scanOptions(rest, { valueLong: ["pathspec-from-file"], longs: RESET_LONGS });
      let mode: string | null = null;
      for (const o of s.opts)
        if (["--hard", "--soft", "--mixed", "--merge", "--keep"].includes(o.name)) mode = o.name.slice(2);
      return [
        {
          action_type: "git_reset",
          hard: mode === "hard",
          mode: mode ?? "mixed",
          target: s.positionals[0] ?? null,
          paths: [...s.positionals.slice(1), ...s.rest],
          ...base,
        },
      ];
    }
    case "commit": {
      const s = scanOptions(rest, {
        valueShort: "mFcCt",
        valueLong: [
          "message",
          "file",
          "reuse-message",
          "reedit-message",
          "template",
          "author",
          "date",
          "cleanup",
          "fixup",
          "squash",
          "trailer",
          "pathspec-from-file",
        ],
        longs: COMMIT_LONGS,
      });
      const messages = values(s, ["-m", "--message"]);
      return [
        {
          action_type: "git_commit",
          amend: flag(s, ["--amend"], ["--no-amend"]),
          no_verify: flag(s, ["-n", "--no-verify"], ["--verify"]),
          all: flag(s, ["-a", "--all"]),
          allow_empty: flag(s, ["--allow-empty"]),
          message: messages.length > 0 ? messages.join("\n\n") : null,
          ...base,
        },
      ];
    }
    case "clean": {
      const s = scanOptions(rest, { valueShort: "e", valueLong: ["exclude"], longs: CLEAN_LONGS });
      return [
        {
          action_type: "git_clean",
          force: flag(s, ["-f", "--force"]),
          directories: flag(s, ["-d"]),
          ignored: flag(s, ["-x"]),
          only_ignored: flag(s, ["-X"]),
          dry_run: flag(s, ["-n", "--dry-run"]),
          ...base,
        },
      ];
    }
    case "branch": {
      const s = scanOptions(rest, {
        valueShort: "u",
        valueLong: ["set-upstream-to", "contains", "no-contains", "merged", "no-merged", "points-at", "sort", "format"],
        longs: BRANCH_LONGS,
      });
      return [
        {
          action_type: "git_branch",
          delete: flag(s, ["-d", "-D", "--delete"]),
          force: flag(s, ["-D", "-f", "--force", "-M", "-C"]),
          names: [...s.positionals, ...s.rest],
          ...base,
        },
      ];
    }
    default: {
      const name = /^[a-z][a-z0-9-]*$/.test(sub) ? sub.replace(/-/g, "_") : "unknown";
      return [{ action_type: `git_${name}`, subcommand: sub, ...base }];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Paths

const UNKNOWN_ROOT = "/\u0000worktree";
const DEVICES = /^\/dev\/(null|stdout|stderr|tty|fd\/[0-9]+)$/;

function trimSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, "") || "/" : p;
}

/** Where the command line is (after each `cd`) and whether a path is inside the worktree. */
class Paths {
  private readonly root: string;
  private cwd: string | null;

  constructor(ctx: ShellContext) {
    const abs = (p: string | null | undefined) => (p && p.startsWith("/") ? trimSlash(posix.normalize(p)) : null);
    const worktree = abs(ctx.worktree);
    const cwd = abs(ctx.cwd);
    this.root = worktree ?? cwd ?? UNKNOWN_ROOT;
    // A relative or missing cwd with a known worktree starts at the worktree.
    this.cwd = cwd ?? this.root;
  }

  private resolve(w: Word): string | null {
    if (w.dynamic || w.text.startsWith("~")) return null;
    if (w.text.startsWith("/")) return trimSlash(posix.normalize(w.text));
    if (this.cwd === null) return null;
    return trimSlash(posix.normalize(posix.join(this.cwd, w.text)));
  }

  outside(w: Word): boolean {
    const p = this.resolve(w);
    if (p === null) return true;
    if (this.root === "/") return false;
    return !(p === this.root || p.startsWith(`${this.root}/`));
  }

  cd(args: Word[]): void {
    const target = args.find((a) => !/^-[LPe@]+$/.test(a.text));
    if (target === undefined || target.text === "-")
      this.cwd = null; // home or the previous directory
    else this.cwd = this.resolve(target);
  }

  unknown(): void {
    this.cwd = null;
  }
}

/** Whether a literal path (absolute, or relative to `ctx.cwd`) lies outside the worktree; `~` counts as outside. */
export function isOutsideWorktree(p: string, ctx: ShellContext = {}): boolean {
  return new Paths(ctx).outside({ text: p, dynamic: false });
}

// ---------------------------------------------------------------------------------------------------------
// Actions

function rmAction(cmd: ParsedCommand, paths: Paths): ShellAction {
  const texts = cmd.args.map((a) => a.text);
  const s = scanOptions(texts, {
    longs: [
      "recursive",
      "force",
      "interactive",
      "one-file-system",
      "no-preserve-root",
      "preserve-root",
      "dir",
      "verbose",
    ],
  });
  // Keep the Word (with its `dynamic` mark) of each path argument.
  const targets: Word[] = [];
  let dashdash = false;
  for (const a of cmd.args) {
    if (!dashdash && a.text === "--") dashdash = true;
    else if (dashdash || !a.text.startsWith("-") || a.text === "-") targets.push(a);
  }
  return {
    action_type: "file_delete",
    program: "rm",
    recursive: flag(s, ["-r", "-R", "--recursive"]),
    force: flag(s, ["-f", "--force"], ["-i", "-I", "--interactive"]),
    no_preserve_root: flag(s, ["--no-preserve-root"], ["--preserve-root"]),
    paths: targets.map((t) => t.text),
    outside_worktree: targets.some((t) => paths.outside(t)),
  };
}

function fileWrite(target: Word, via: string, paths: Paths): ShellAction | null {
  if (target.text === "" || DEVICES.test(target.text)) return null;
  return { action_type: "file_write", path: target.text, via, outside_worktree: paths.outside(target) };
}

/** The word given to `-t DIR` / `--target-directory=DIR` (cp, mv, install), keeping its `dynamic` mark. */
function targetDirectory(args: readonly Word[]): Word | null {
  let found: Word | null = null;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a.text === "--") break;
    if (a.text === "-t" || a.text === "--target-directory") found = args[++k] ?? null;
    else if (a.text.startsWith("--target-directory="))
      found = { text: a.text.slice("--target-directory=".length), dynamic: a.dynamic };
    else if (/^-[A-Za-z]*t./.test(a.text) && !a.text.startsWith("--"))
      found = { text: a.text.slice(a.text.indexOf("t") + 1), dynamic: a.dynamic };
  }
  return found;
}

function writeTargets(cmd: ParsedCommand): Word[] {
  const positional = (spec: OptSpec) => {
    const out: Word[] = [];
    let dashdash = false;
    for (let k = 0; k < cmd.args.length; k++) {
      const a = cmd.args[k]!;
      const t = a.text;
      if (dashdash) out.push(a);
      else if (t === "--") dashdash = true;
      else if (t.startsWith("--")) {
        if (!t.includes("=") && (spec.valueLong ?? []).includes(t.slice(2))) k++;
      } else if (t.startsWith("-") && t.length > 1) {
        const ci = [...t.slice(1)].findIndex((ch) => (spec.valueShort ?? "").includes(ch));
        if (ci === t.length - 2) k++;
      } else out.push(a);
    }
    return out;
  };
  switch (cmd.program) {
    case "tee":
      return positional({ valueLong: [] });
    case "cp":
    case "mv":
    case "install": {
      const spec = {
        valueShort: cmd.program === "install" ? "tSmogb" : "tS",
        valueLong: ["target-directory", "suffix", "mode", "owner", "group"],
      };
      const dir = targetDirectory(cmd.args);
      if (dir !== null) return [dir];
      const pos = positional(spec);
      return pos.length >= 2 ? [pos.at(-1)!] : [];
    }
    case "sed": {
      // GNU sed: `-i[SUFFIX]` takes its suffix attached only, so `-ie` is in-place with suffix "e".
      let inPlace = false;
      let scriptGiven = false;
      const files: Word[] = [];
      let dashdash = false;
      for (let k = 0; k < cmd.args.length; k++) {
        const a = cmd.args[k]!;
        const t = a.text;
        if (dashdash || !t.startsWith("-") || t === "-") files.push(a);
        else if (t === "--") dashdash = true;
        else if (t.startsWith("--")) {
          if (t.startsWith("--in-place")) inPlace = true;
          else if (t === "--expression" || t === "--file") {
            scriptGiven = true;
            k++;
          } else if (t.startsWith("--expression=") || t.startsWith("--file=")) scriptGiven = true;
        } else {
          for (let ci = 1; ci < t.length; ci++) {
            const ch = t[ci]!;
            if (ch === "i") {
              inPlace = true;
              break;
            }
            if (ch === "e" || ch === "f" || ch === "l") {
              if (ch !== "l") scriptGiven = true;
              if (ci === t.length - 1) k++;
              break;
            }
          }
        }
      }
      if (!inPlace) return [];
      return scriptGiven ? files : files.slice(1);
    }
    default:
      return [];
  }
}

const WRITE_REDIRECTS = new Set([">", ">>", ">|", "&>", "&>>", "<>", ">&"]);

/**
 * The policy actions of a shell command line: one `shell` action, then one per recognised operation
 * (see the top of this file). Never throws, whatever the input.
 */
export function shellActions(command: string, ctx: ShellContext = {}): ShellAction[] {
  const cmds = parseShell(command);
  const actions: ShellAction[] = [
    {
      action_type: "shell",
      command,
      commands: cmds
        .filter((c) => c.program !== "")
        .map((c) => ({ program: c.program, args: c.args.map((a) => a.text) })),
    },
  ];
  const paths = new Paths(ctx);
  for (const c of cmds) {
    for (const r of c.redirects) {
      if (!WRITE_REDIRECTS.has(r.op) || r.target === null) continue;
      if (r.op === ">&" && /^([0-9]+|-)$/.test(r.target.text)) continue; // duplicates a descriptor
      const a = fileWrite(r.target, "redirect", paths);
      if (a) actions.push(a);
    }
    switch (c.program) {
      case "cd":
      case "pushd":
        paths.cd(c.args);
        break;
      case "popd":
        paths.unknown();
        break;
      case "git":
        actions.push(...gitActions(c.args.map((a) => a.text)));
        break;
      case "rm":
        actions.push(rmAction(c, paths));
        break;
      default:
        for (const t of writeTargets(c)) {
          const a = fileWrite(t, c.program, paths);
          if (a) actions.push(a);
        }
    }
  }
  return actions;
}
