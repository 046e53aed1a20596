// `mc completion zsh|bash` in the real shells. zsh: a `zsh -f -i` on a pseudo-terminal (the zsh/zpty module)
// with compinit, installed both ways the script's header says (a `_mc` file in fpath, autoloaded; and sourced
// after compinit); keys are typed as a person would (the words, then TAB), and a widget bound to ^X writes the
// line as completion left it. bash: the completion function on COMP_WORDS as readline would call it.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { baseEnv, mc, scratchHome } from "./helpers.js";

function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Types each line then TAB then ^X into an interactive zsh; ^X's widget appends "[<line>]" to the out file.
const DRIVER = String.raw`zmodload zsh/zpty || exit 3
fp=$1 src=$2 out=$3; shift 3
: > $out
zpty -b mcz "env -i HOME=$HOME PATH=$PATH TERM=dumb zsh -f -i"
setup="PS1='> '; unsetopt beep"
[[ -n $fp ]] && setup+="; fpath=(${"$"}{(q)fp} \$fpath)"
setup+="; autoload -Uz compinit; compinit -u -d ${"$"}{(q)out}.zcompdump"
[[ -n $src ]] && setup+="; source ${"$"}{(q)src}"
setup+="; _dump() { print -r -- \"[\$BUFFER]\" >> ${"$"}{(q)out}; BUFFER=; }; zle -N _dump; bindkey '^X' _dump"
zpty -w mcz "$setup"
n=0
for line in "$@"; do
  zpty -wn mcz "$line"$'\t\x18'
  (( n++ ))
  for ((t = 0; t < 400; t++)); do
    (( $(wc -l < $out) >= n )) && break
    sleep 0.05
  done
done
zpty -d mcz
cat $out
`;

// What TAB makes of each line: a unique command, a nested subcommand, an option of a subcommand, a global
// option, nothing for a word that is not a subcommand there, and a three-level command.
const CASES: Array<[string, string]> = [
  ["mc ta", "mc tasks "],
  ["mc tasks ap", "mc tasks approve "],
  ["mc missions c", "mc missions create "],
  ["mc tasks logs task-1 --f", "mc tasks logs task-1 --follow "],
  ["mc --js", "mc --json "],
  ["mc missions ap", "mc missions ap"],
  ["mc hooks install cl", "mc hooks install claude-code "],
];

let dir: string;
let zshScript: string;
let bashScript: string;

beforeAll(async () => {
  dir = scratchHome();
  const env = baseEnv(dir);
  const [z, b] = await Promise.all([mc(["completion", "zsh"], env), mc(["completion", "bash"], env)]);
  expect(z.code, z.stderr).toBe(0);
  expect(b.code, b.stderr).toBe(0);
  zshScript = z.stdout;
  bashScript = b.stdout;
  fs.mkdirSync(path.join(dir, "fpath"));
  fs.writeFileSync(path.join(dir, "fpath", "_mc"), zshScript);
  fs.writeFileSync(path.join(dir, "mc.zsh"), zshScript);
  fs.writeFileSync(path.join(dir, "mc.bash"), bashScript);
  fs.writeFileSync(path.join(dir, "drive.zsh"), DRIVER);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function driveZsh(fpathDir: string, source: string, out: string): string[] {
  const stdout = execFileSync(
    "zsh",
    ["-f", path.join(dir, "drive.zsh"), fpathDir, source, path.join(dir, out), ...CASES.map((c) => c[0])],
    { env: { PATH: process.env.PATH ?? "", HOME: dir }, timeout: 60_000 },
  ).toString();
  return stdout.trimEnd().split("\n");
}

const expected = CASES.map((c) => `[${c[1]}]`);

describe.skipIf(!has("zsh"))("zsh", () => {
  test("the script is valid zsh and starts with #compdef", () => {
    expect(zshScript.startsWith("#compdef mc\n")).toBe(true);
    execFileSync("zsh", ["-n", path.join(dir, "mc.zsh")]);
  });

  test("installed as _mc in fpath (autoloaded by compinit), TAB completes from the first try", () => {
    expect(driveZsh(path.join(dir, "fpath"), "", "out-fpath")).toEqual(expected);
  }, 90_000);

  test("sourced after compinit, TAB completes the same", () => {
    expect(driveZsh("", path.join(dir, "mc.zsh"), "out-source")).toEqual(expected);
  }, 90_000);
});

describe.skipIf(!has("bash"))("bash", () => {
  test.each(CASES)("%j completes to %j", (line, want) => {
    const words = line.split(" ");
    const out = execFileSync("bash", [
      "-c",
      `source ${path.join(dir, "mc.bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _mc_complete; echo "\${COMPREPLY[@]}"`,
    ])
      .toString()
      .trim();
    // bash offers the candidates; readline inserts the single one (and a space).
    const completed = out === "" ? line : `${words.slice(0, -1).join(" ")} ${out} `;
    expect(out.split(" ").length, `${line} → ${out}`).toBeLessThanOrEqual(1);
    expect(completed).toBe(want);
  });
});
