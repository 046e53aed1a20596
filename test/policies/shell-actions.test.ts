import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { decide } from "../../src/policies/decide.js";
import { compileConditions, matches } from "../../src/policies/matcher.js";
import { isOutsideWorktree, parseShell, shellActions, type ShellContext } from "../../src/policies/shell-actions.js";
import { toolUseActions } from "../../src/policies/tool-actions.js";

const WT: ShellContext = { worktree: "/work/repo" };

function ofType(actions: Array<Record<string, unknown>>, type: string) {
  return actions.filter((a) => a.action_type === type);
}

function one(command: string, type: string, ctx: ShellContext = WT) {
  const found = ofType(shellActions(command, ctx), type);
  expect(found, `${type} actions of ${command}`).toHaveLength(1);
  return found[0]!;
}

describe("the shell action", () => {
  test("always first, with the whole line and every simple command", () => {
    const a = shellActions("cd src && npm test | tee out.log; echo done", WT);
    expect(a[0]).toEqual({
      action_type: "shell",
      command: "cd src && npm test | tee out.log; echo done",
      commands: [
        { program: "cd", args: ["src"] },
        { program: "npm", args: ["test"] },
        { program: "tee", args: ["out.log"] },
        { program: "echo", args: ["done"] },
      ],
    });
  });

  test("quotes, escapes and ANSI-C strings are unquoted", () => {
    expect(parseShell(`echo 'a b' "c \\"d\\"" e\\ f $'g\\nh'`)[0]!.args.map((w) => w.text)).toEqual([
      "a b",
      'c "d"',
      "e f",
      "g\nh",
    ]);
  });

  test("comments and line continuations", () => {
    expect(
      parseShell("git \\\n  push -f # force it\n# git reset --hard").map((c) => [c.program, c.args.map((w) => w.text)]),
    ).toEqual([["git", ["push", "-f"]]]);
  });

  test.each([
    ["sudo -u root git push -f", "git"],
    ["env -i FOO=1 BAR=2 git push -f", "git"],
    ["FOO=1 git push -f", "git"],
    ["nohup nice -n 5 git push -f", "git"],
    ["nice -10 git push -f", "git"],
    ["timeout -s KILL 30 git push -f", "git"],
    ["time git push -f", "git"],
    ["command git push -f", "git"],
    ["exec git push -f", "git"],
    ["stdbuf -oL git push -f", "git"],
    ["xargs -I {} git push -f", "git"],
    ["/usr/bin/git push -f", "git"],
    ["! git push -f", "git"],
    ["if true; then git push -f; fi", "git"],
    ["while true; do git push -f; done", "git"],
    ["{ git push -f; }", "git"],
    ["(git push -f)", "git"],
  ])("wrappers and grammar are seen through: %s", (line, program) => {
    const cmds = parseShell(line).filter((c) => c.program === program);
    expect(cmds).toHaveLength(1);
    expect(cmds[0]!.args.map((w) => w.text)).toEqual(["push", "-f"]);
  });

  test.each([
    ["echo $(git push -f)"],
    ["echo `git push -f`"],
    ['echo "$(git push -f)"'],
    ["diff <(git push -f) x"],
    ["bash -c 'git push -f'"],
    ['sh -ec "git push -f"'],
    ["bash -lc 'echo x && git push -f'"],
    ["eval git push -f"],
    ["bash <<'EOF'\ngit push -f\nEOF"],
    ["cat <<EOF | sh\ngit push -f\nEOF"],
    ["echo 'git push -f' | bash"],
    ["bash <<< 'git push -f'"],
    ['sudo bash -c "$(echo x) && git push -f"'],
  ])("nested code runs too: %s", (line) => {
    expect(one(line, "git_push").force).toBe(true);
  });

  test.each([
    ["command -v git", 0],
    ["echo git push -f", 0],
    ["bash script.sh <<EOF\ngit push -f\nEOF", 0],
    ["echo $((1 + 2))", 0],
    ["grep -r 'git push -f' .", 0],
  ])("mentions are not runs: %s", (line, n) => {
    expect(ofType(shellActions(line, WT), "git_push")).toHaveLength(n);
  });
});

describe("git push", () => {
  test("the recorded `git push --force origin main`", () => {
    expect(one("git push --force origin main", "git_push")).toEqual({
      action_type: "git_push",
      remote: "origin",
      branch: "main",
      refspec: "main",
      force: true,
      force_with_lease: false,
      delete: false,
      all: false,
      mirror: false,
      tags: false,
      dry_run: false,
      set_upstream: false,
      args: ["--force", "origin", "main"],
    });
  });

  test.each([
    ["git push --force origin main", true, "origin", "main"],
    ["git push -f origin main", true, "origin", "main"],
    ["git push origin main -f", true, "origin", "main"],
    ["git push -uf origin main", true, "origin", "main"],
    ["git push -fu origin main", true, "origin", "main"],
    ["git push --force-with-lease origin main", true, "origin", "main"],
    ["git push --force-with-lease=main:abc123 origin main", true, "origin", "main"],
    ["git push --force-w origin main", true, "origin", "main"],
    ["git push origin +main", true, "origin", "main"],
    ["git push origin +HEAD:refs/heads/main", true, "origin", "main"],
    ["git push --mirror origin", true, "origin", null],
    ["git push -f", true, null, null],
    ["git push -f origin", true, "origin", null],
    ["git push -f origin HEAD", true, "origin", null],
    ["git push --force --no-force origin main", false, "origin", "main"],
    ["git push origin main", false, "origin", "main"],
    ["git push -u origin feature/x", false, "origin", "feature/x"],
    ["git push origin feature:main", false, "origin", "main"],
    ["git push origin refs/tags/v1", false, "origin", "refs/tags/v1"],
    ["git push --force-if-includes origin main", false, "origin", "main"],
    ["git push --forc origin main", false, "origin", "main"], // ambiguous: git itself refuses it
    ["git -C ../other -c push.default=current push -f upstream dev", true, "upstream", "dev"],
    ["git --git-dir=.git push --force origin main", true, "origin", "main"],
    ["git push -o ci.skip -f origin main", true, "origin", "main"],
    ["git push --push-option ci.skip origin main", false, "origin", "main"],
  ])("%s → force %s, remote %s, branch %s", (line, force, remote, branch) => {
    const a = one(line, "git_push");
    expect({ force: a.force, remote: a.remote, branch: a.branch }).toEqual({ force, remote, branch });
  });

  test("one action per refspec, each with its own force", () => {
    const a = ofType(shellActions("git push origin main +dev :old", WT), "git_push");
    expect(a.map((x) => [x.branch, x.force, x.delete])).toEqual([
      ["main", false, false],
      ["dev", true, false],
      ["old", false, true],
    ]);
  });

  test("--delete", () => {
    expect(one("git push origin --delete feature", "git_push")).toMatchObject({ delete: true, branch: "feature" });
  });
});

describe("other git commands", () => {
  test.each([
    ["git reset --hard HEAD~1", { hard: true, mode: "hard", target: "HEAD~1", paths: [] }],
    ["git reset HEAD~1 --hard", { hard: true, mode: "hard", target: "HEAD~1" }],
    ["git reset --soft HEAD^", { hard: false, mode: "soft" }],
    ["git reset", { hard: false, mode: "mixed", target: null }],
    ["git reset HEAD -- a.ts b.ts", { hard: false, target: "HEAD", paths: ["a.ts", "b.ts"] }],
  ])("%s", (line, want) => {
    expect(one(line, "git_reset")).toMatchObject(want);
  });

  test.each([
    ['git commit -m "wip"', { message: "wip", amend: false, no_verify: false, all: false }],
    ['git commit -am "wip"', { message: "wip", all: true }],
    ["git commit -amwip", { message: "wip", all: true }],
    ["git commit --amend --no-edit -n", { amend: true, no_verify: true, message: null }],
    ["git commit --no-verify --verify -m x", { no_verify: false }],
    ['git commit -m "a" -m "b"', { message: "a\n\nb" }],
    ['git commit --message="fix: x" --allow-empty', { message: "fix: x", allow_empty: true }],
  ])("%s", (line, want) => {
    expect(one(line, "git_commit")).toMatchObject(want);
  });

  test("git clean, git branch and any other subcommand", () => {
    expect(one("git clean -fdx", "git_clean")).toMatchObject({
      force: true,
      directories: true,
      ignored: true,
      dry_run: false,
    });
    expect(one("git clean -n", "git_clean")).toMatchObject({ force: false, dry_run: true });
    expect(one("git branch -D old new", "git_branch")).toMatchObject({
      delete: true,
      force: true,
      names: ["old", "new"],
    });
    expect(one("git branch -d old", "git_branch")).toMatchObject({ delete: true, force: false });
    expect(one("git rebase -i main", "git_rebase")).toEqual({
      action_type: "git_rebase",
      subcommand: "rebase",
      args: ["-i", "main"],
    });
    expect(one("git cherry-pick abc", "git_cherry_pick")).toMatchObject({ subcommand: "cherry-pick" });
    expect(ofType(shellActions("git --version", WT), "git_push")).toHaveLength(0);
  });
});

describe("rm and the worktree", () => {
  test.each([
    ["rm -rf build", false],
    ["rm -rf ./build dist/*", false],
    ["rm -rf .", false],
    ["rm -rf /work/repo/build", false],
    ["rm -rf /", true],
    ["rm -rf /*", true],
    ["rm -rf /work/repo-other", true],
    ["rm -rf ..", true],
    ["rm -rf ../sibling", true],
    ["rm -rf build/../../x", true],
    ["rm -rf ~", true],
    ["rm -rf ~/projects", true],
    ["rm -rf $HOME", true],
    ['rm -rf "$BUILD_DIR"', true],
    ["rm -rf $(pwd)/x", true],
    ["cd /tmp && rm -rf build", true],
    ["cd sub && rm -rf ../x", false],
    ["cd sub && rm -rf ../../x", true],
    ["cd - && rm -rf x", true],
    ["cd && rm -rf x", true],
    ["cd $DIR && rm -rf x", true],
    ["cd /work/repo/sub; rm -rf x", false],
    ["rm -rf -- -weird-name", false],
  ])("%s → outside_worktree %s", (line, outside) => {
    expect(one(line, "file_delete").outside_worktree).toBe(outside);
  });

  test("flags", () => {
    expect(one("rm -rf x", "file_delete")).toEqual({
      action_type: "file_delete",
      program: "rm",
      recursive: true,
      force: true,
      no_preserve_root: false,
      paths: ["x"],
      outside_worktree: false,
    });
    expect(one("rm -Rfv x", "file_delete")).toMatchObject({ recursive: true, force: true });
    expect(one("rm --recursive --force x", "file_delete")).toMatchObject({ recursive: true, force: true });
    expect(one("rm --recur x", "file_delete")).toMatchObject({ recursive: true });
    expect(one("rm -f -i x", "file_delete")).toMatchObject({ force: false });
    expect(one("rm x", "file_delete")).toMatchObject({ recursive: false, force: false });
    expect(one("rm -rf --no-preserve-root /", "file_delete")).toMatchObject({
      no_preserve_root: true,
      outside_worktree: true,
    });
  });

  test("cwd different from the worktree", () => {
    expect(one("rm -rf ../x", "file_delete", { worktree: "/w", cwd: "/w/a" }).outside_worktree).toBe(false);
    expect(one("rm -rf x", "file_delete", { worktree: "/w", cwd: "/elsewhere" }).outside_worktree).toBe(true);
  });

  test("without a known worktree, the starting directory stands for it and absolute paths are outside", () => {
    expect(one("rm -rf build", "file_delete", {}).outside_worktree).toBe(false);
    expect(one("rm -rf ../x", "file_delete", {}).outside_worktree).toBe(true);
    expect(one("rm -rf /tmp/x", "file_delete", {}).outside_worktree).toBe(true);
  });

  test("isOutsideWorktree", () => {
    expect(isOutsideWorktree("src/a.ts", WT)).toBe(false);
    expect(isOutsideWorktree("/work/repo/src/a.ts", WT)).toBe(false);
    expect(isOutsideWorktree("/etc/passwd", WT)).toBe(true);
    expect(isOutsideWorktree("~/.ssh/id_rsa", WT)).toBe(true);
    expect(isOutsideWorktree("/anything", { worktree: "/" })).toBe(false);
  });
});

describe("file writes", () => {
  test.each([
    ["echo SECRET=1 > .env", [".env"]],
    ["echo x >> logs/out.txt", ["logs/out.txt"]],
    ["cmd &> all.log", ["all.log"]],
    ["cmd 2> err.log", ["err.log"]],
    ["cmd >| forced", ["forced"]],
    ["cmd > /dev/null 2>&1", []],
    ["cmd >&2", []],
    ["cmd >&out.log", ["out.log"]],
    ["> empty.txt", ["empty.txt"]],
    ["cat <<EOF > .env\nA=1\nEOF", [".env"]],
    ["printf x | tee -a a.txt b.txt", ["a.txt", "b.txt"]],
    ["cp .env.example .env", [".env"]],
    ["cp -r a b c/", ["c/"]],
    ["cp -t dest a b", ["dest"]],
    ["mv old.txt new.txt", ["new.txt"]],
    ["install -m 600 key secrets/key", ["secrets/key"]],
    ["sed -i 's/a/b/' .env config.yml", [".env", "config.yml"]],
    ["sed -i.bak -e 's/a/b/' .env", [".env"]],
    ["sed -ie 's/a/b/' .env", [".env"]],
    ["sed --in-place=.orig 's/a/b/' x", ["x"]],
    ["sed 's/a/b/' .env", []],
    ["cp only-one", []],
  ])("%s", (line, paths) => {
    expect(ofType(shellActions(line, WT), "file_write").map((a) => a.path)).toEqual(paths);
  });

  test("carry where they go and whether that is outside the worktree", () => {
    expect(one("echo x > /etc/hosts", "file_write")).toEqual({
      action_type: "file_write",
      path: "/etc/hosts",
      via: "redirect",
      outside_worktree: true,
    });
  });
});

describe("robustness", () => {
  test.each([
    "",
    "   ",
    "x='unterminated",
    'echo "unterminated',
    "echo $(unterminated",
    "echo `unterminated",
    "git push <<",
    "((((((((",
    "))))",
    ";;;&&&|||",
    "\\",
    "$",
    "${",
    "cat <<EOF",
  ])("%j parses without throwing", (line) => {
    const a = shellActions(line, WT);
    expect(a[0]).toMatchObject({ action_type: "shell", command: line });
  });

  test("nesting is followed a few levels deep, and bounded beyond", () => {
    const nestC = (n: number) => {
      let line = "git push -f";
      for (let i = 0; i < n; i++) line = `bash -c ${JSON.stringify(line)}`;
      return line;
    };
    expect(ofType(shellActions(nestC(5), WT), "git_push")).toHaveLength(1);
    expect(() => shellActions(nestC(12), WT)).not.toThrow();
    const nestSubs = (n: number) => {
      let line = "git push -f";
      for (let i = 0; i < n; i++) line = `echo $(${line})`;
      return line;
    };
    expect(ofType(shellActions(nestSubs(5), WT), "git_push")).toHaveLength(1);
    const t0 = performance.now();
    expect(() => shellActions(nestSubs(5_000), WT)).not.toThrow();
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  test("a long line is parsed in linear time", () => {
    const line = Array.from({ length: 20_000 }, (_, i) => `echo ${i} > f${i}`).join(" && ");
    const t0 = performance.now();
    const a = shellActions(line, WT);
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(a.length).toBeGreaterThan(100);
  });

  test("never throws on arbitrary strings, and always starts with the shell action", () => {
    const shellish = fc
      .array(
        fc.oneof(
          fc.constantFrom(
            "git",
            "push",
            "-f",
            "rm",
            "-rf",
            "/",
            "'",
            '"',
            "$(",
            ")",
            "`",
            "|",
            "&&",
            ";",
            "<<",
            "EOF",
            "\n",
            ">",
            "2>&1",
            "bash",
            "-c",
            "\\",
            "{",
            "}",
            "$'",
            "sed",
            "-i",
            "cd",
            "..",
          ),
          fc.string({ maxLength: 5 }),
        ),
        { maxLength: 20 },
      )
      .map((parts) => parts.join(" "));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), shellish), (line) => {
        const a = shellActions(line, WT);
        expect(a[0]!.action_type).toBe("shell");
        expect(a[0]!.command).toBe(line);
        expect(() => JSON.stringify(a)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});

describe("against policies", () => {
  const noForcePush = { action_type: "git_push", force: true };

  test("the reference's no-force-push blocks a recorded `git push --force origin main`", () => {
    const match = compileConditions(noForcePush);
    const policies = [
      {
        policyId: "no-force-push",
        version: 1,
        mode: "enforce" as const,
        actions: [{ block: "Force push not allowed" }],
        match,
      },
    ];
    const decisions = shellActions("git push --force origin main", WT).map((a) => decide(policies, a).decision);
    expect(decisions).toEqual(["allow", "block"]);
  });

  test.each([
    ["git push origin main", false],
    ["git push -f origin feature", true],
    ["cd repo && git push --force-with-lease", true],
  ])("no-force-push on %s → %s", (line, blocked) => {
    expect(shellActions(line, WT).some((a) => matches(noForcePush, a))).toBe(blocked);
  });
});

describe("tool calls", () => {
  test("Bash goes through the shell parser", () => {
    const a = toolUseActions("Bash", { command: "git push --force origin main", description: "push" }, WT);
    expect(a.map((x) => x.action_type)).toEqual(["shell", "git_push"]);
  });

  test.each([
    ["Write", { file_path: "/work/repo/.env", content: "A=1" }, { path: "/work/repo/.env", outside_worktree: false }],
    [
      "Edit",
      { file_path: "src/a.ts", old_string: "a", new_string: "b" },
      { path: "src/a.ts", outside_worktree: false },
    ],
    ["MultiEdit", { file_path: "/etc/hosts", edits: [] }, { path: "/etc/hosts", outside_worktree: true }],
    ["NotebookEdit", { notebook_path: "n.ipynb" }, { path: "n.ipynb", outside_worktree: false }],
  ])("%s becomes file_write", (tool, input, want) => {
    expect(toolUseActions(tool, input, WT)).toEqual([{ action_type: "file_write", via: tool, ...want }]);
  });

  test("any other tool is a tool_use action; malformed input does not throw", () => {
    expect(toolUseActions("WebFetch", { url: "https://x" })).toEqual([
      { action_type: "tool_use", tool: "WebFetch", input: { url: "https://x" } },
    ]);
    expect(toolUseActions("Bash", { command: 5 })).toEqual([
      { action_type: "tool_use", tool: "Bash", input: { command: 5 } },
    ]);
    expect(toolUseActions("Write", null)).toEqual([{ action_type: "tool_use", tool: "Write", input: {} }]);
  });
});
