// mc completion bash|zsh: a completion script built from the command tree itself, so it never goes stale.
import type { Command } from "commander";
import { UsageError } from "../context.js";

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
}

function walk(cmd: Command, prefix: string[], out: Node[]) {
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  out.push({
    path: prefix.join(" "),
    subcommands: subs.map((c) => c.name()),
    options: [...cmd.options.map((o) => o.long).filter((l): l is string => !!l), "--help"],
  });
  for (const c of subs) walk(c, [...prefix, c.name()], out);
}

/** What completes after a command: its subcommands, its options and the program's, each once. */
function candidates(root: Command, n: Node): string {
  const globals = root.options.map((o) => o.long).filter((l): l is string => !!l);
  return [...new Set([...n.subcommands, ...n.options, ...globals])].join(" ");
}

function bash(root: Command): string {
  const nodes: Node[] = [];
  walk(root, [], nodes);
  const cases = nodes.map((n) => `    "${n.path}") words="${candidates(root, n)}" ;;`).join("\n");
  return `# bash completion for mc. Install: mc completion bash > ~/.local/share/bash-completion/completions/mc
_mc_complete() {
  local cur path="" w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "$path" in
${nodes
  .filter((n) => n.subcommands.length > 0)
  .map((n) => `      "${n.path}") case "$w" in ${n.subcommands.join("|")}) path="\${path:+$path }$w" ;; esac ;;`)
  .join("\n")}
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _mc_complete mc
`;
}

function zsh(root: Command): string {
  const nodes: Node[] = [];
  walk(root, [], nodes);
  // A native completion function (no bashcompinit). Autoloaded from fpath, this file is the body of `_mc`:
  // it defines the real `_mc` and calls it; sourced, it registers `_mc` for `mc` with compdef.
  return `#compdef mc
# zsh completion for mc. Install: mc completion zsh > "\${fpath[1]}/_mc" (then restart zsh),
# or after compinit in ~/.zshrc: source <(mc completion zsh)
_mc() {
  local cmdpath="" w i
  local -a cands
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    [[ "$w" == -* ]] && continue
    case "$cmdpath" in
${nodes
  .filter((n) => n.subcommands.length > 0)
  .map(
    (n) => `      "${n.path}") case "$w" in ${n.subcommands.join("|")}) cmdpath="\${cmdpath:+$cmdpath }$w" ;; esac ;;`,
  )
  .join("\n")}
    esac
  done
  case "$cmdpath" in
${nodes.map((n) => `    "${n.path}") cands=(${candidates(root, n)}) ;;`).join("\n")}
  esac
  compadd -- "\${cands[@]}"
}
if [[ "\${funcstack[1]}" == _mc ]]; then
  _mc "$@"
else
  compdef _mc mc
fi
`;
}

export function completionCommand(program: Command) {
  program
    .command("completion <shell>")
    .description("print a shell completion script (bash or zsh)")
    .addHelpText(
      "after",
      '\nExample:\n  mc completion bash > ~/.local/share/bash-completion/completions/mc\n  mc completion zsh > "${fpath[1]}/_mc"',
    )
    .action((shell: string) => {
      if (shell === "bash") process.stdout.write(bash(program));
      else if (shell === "zsh") process.stdout.write(zsh(program));
      else throw new UsageError(`unknown shell "${shell}": bash or zsh`);
    });
}
