#!/usr/bin/env python3
"""check-armv6m — the budgets and rules of the agent crypto's ARMv6-M build.

    check-armv6m.py --tools PREFIX [--text-budget B] [--stack-budget B] OBJ.o...

For the objects built by lpa/agent/meson.build (each with its .su and .ci next to it):
  - code: the sum of the `text` column of arm-none-eabi-size (code + read-only data)
    is at most --text-budget bytes, and there is no .data or .bss at all;
  - no call leaves the library: every undefined symbol is defined by another object
    (no libgcc helper, no memcpy/memset the compiler made up);
  - instructions: every one is ARMv6-M Thumb, 16-bit but for BL/DMB/DSB/ISB/MRS/MSR
    (objdump decodes whatever is there, so an ARMv7-M encoding would show);
  - stack: the worst case of every global function, its own frame plus the deepest
    path through the call graph of -fcallgraph-info=su (no recursion, no indirect
    call, no dynamic frame), is at most --stack-budget bytes; and for every function
    that calls ct_stack_scrub, the scrub's frame covers the deepest of its other calls.
--firmware checks a whole image's objects instead (lpa/agent's firmware with the crypto):
static RAM is allowed, undefined symbols starting with "__" are the linker script's,
and the stack budget applies to the deepest global function (startup_reset, whose
call graph is the whole firmware's).
--insn-only runs the instruction check alone; with --expect-refusal it succeeds only
when it found violations (the self-test feeds it ARMv7-M code). Prints what it
measured; exits 1 on any violation, 2 when a tool or a file is missing.
"""
import argparse
import os
import re
import subprocess
import sys

ALLOWED16 = set("""
adcs add adds adr ands asrs b bic bics bkpt blx bx cmn cmp cpsid cpsie eors ldm ldmia
ldr ldrb ldrh ldrsb ldrsh lsls lsrs mov movs muls mvns neg negs nop orrs pop push rev
rev16 revsh rors rsbs sbcs sev stm stmia str strb strh sub subs svc sxtb sxth tst udf
uxtb uxth wfe wfi yield
""".split())
ALLOWED32 = {"bl", "dmb", "dsb", "isb", "mrs", "msr"}
CONDS = "eq ne cs cc hs lo mi pl vs vc hi ls ge lt gt le al".split()
ALLOWED16 |= {"b" + c for c in CONDS}

problems = []


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def check_size(tools, objs, budget, firmware=False):
    total = 0
    print("code (arm-none-eabi-size, text = code + rodata):")
    for o in objs:
        lines = run(tools + "size", o).splitlines()
        text, data, bss = (int(x) for x in lines[1].split()[:3])
        print(f"  {os.path.basename(o):24s} {text:6d}")
        total += text
        if (data or bss) and not firmware:
            problems.append(f"{o}: {data} bytes .data, {bss} bytes .bss (must be 0)")
    print(f"  {'total':24s} {total:6d}  (budget {budget})")
    if total > budget:
        problems.append(f"code {total} bytes > budget {budget}")


def check_symbols(tools, objs, firmware=False):
    defined, undefined = set(), {}
    for o in objs:
        for line in run(tools + "nm", "-g", o).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                undefined.setdefault(parts[1], []).append(os.path.basename(o))
            elif len(parts) == 3:
                defined.add(parts[2])
    external = sorted(s for s in set(undefined) - defined
                      if not (firmware and s.startswith("__")))
    print("calls outside the library:", ", ".join(external) if external else "none")
    for s in external:
        problems.append(f"undefined symbol {s} (from {', '.join(undefined[s])})")


INSN = re.compile(r"^\s*[0-9a-f]+:\t([0-9a-f]{4})( [0-9a-f]{4}|[0-9a-f]{4})?\s*\t(\S+)")


def check_insns(tools, objs):
    count = 0
    for o in objs:
        for line in run(tools + "objdump", "-d", o).splitlines():
            m = INSN.match(line)
            if not m:
                continue
            mnem = m.group(3)
            if mnem.startswith("."):  # literal pool data
                continue
            mnem = re.sub(r"\.(n|w)$", "", mnem)
            wide = m.group(2) is not None
            count += 1
            ok = mnem in (ALLOWED32 if wide else ALLOWED16)
            if not ok:
                problems.append(f"{os.path.basename(o)}: not ARMv6-M: {line.strip()}")
    print(f"instructions: {count}, all ARMv6-M" if not problems else
          f"instructions: {count}")


NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def load_callgraph(objs):
    """{(file, name): frame}, {(file, name): [callee names]}; static functions keyed by
    their file, so equal names in two files stay apart."""
    frames, calls, globals_by_name = {}, {}, {}
    for o in objs:
        ci = os.path.splitext(o)[0] + ".ci"
        f = os.path.basename(o)
        with open(ci) as fh:
            text = fh.read()
        for title, label in NODE.findall(text):
            m = re.search(r"\\n(\d+) bytes \((\w+)\)", label)
            if not m:
                continue  # a reference to a function defined elsewhere
            if m.group(2) not in ("static",):
                problems.append(f"{f}: {title}: {m.group(2)} stack frame")
            frames[(f, title)] = int(m.group(1))
            calls.setdefault((f, title), [])
        for src, dst in EDGE.findall(text):
            if dst.startswith("__indirect_call"):
                problems.append(f"{f}: {src}: indirect call (unbounded)")
                continue
            calls.setdefault((f, src), []).append(dst)
    return frames, calls


def check_stack(tools, objs, budget):
    frames, calls = load_callgraph(objs)
    globals_ = {}
    for o in objs:
        f = os.path.basename(o)
        for line in run(tools + "nm", "-g", "--defined-only", o).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "T":
                globals_[parts[2]] = f

    def resolve(f, name):
        if (f, name) in frames:
            return (f, name)
        if name in globals_ and (globals_[name], name) in frames:
            return (globals_[name], name)
        problems.append(f"{f}: call to {name}, which no object defines")
        return None

    memo = {}

    def depth(key, path=()):
        if key in path:
            problems.append("recursion: " + " -> ".join(k[1] for k in path + (key,)))
            return 0
        if key in memo:
            return memo[key]
        deepest = 0
        for callee in calls.get(key, []):
            c = resolve(key[0], callee)
            if c is not None:
                deepest = max(deepest, depth(c, path + (key,)))
        memo[key] = frames[key] + deepest
        return memo[key]

    print("worst-case stack per global function (own frame + deepest call path):")
    worst = 0
    for name in sorted(globals_):
        d = depth((globals_[name], name))
        worst = max(worst, d)
        print(f"  {name:28s} {d:5d}")
    print(f"  {'maximum':28s} {worst:5d}  (budget {budget})")
    if worst > budget:
        problems.append(f"worst-case stack {worst} bytes > budget {budget}")

    scrub = resolve("", "ct_stack_scrub") if "ct_stack_scrub" in globals_ else None
    if scrub is not None:
        cover = frames[scrub]
        for key, callees in sorted(calls.items()):
            if "ct_stack_scrub" not in callees:
                continue
            others = [resolve(key[0], c) for c in callees if c != "ct_stack_scrub"]
            deepest = max([depth(c) for c in others if c is not None] or [0])
            print(f"  {key[1]}: scrub covers {cover} of {deepest} bytes its calls used")
            if deepest > cover:
                problems.append(f"{key[1]}: its calls use {deepest} bytes of stack, "
                                f"ct_stack_scrub wipes {cover}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", default="arm-none-eabi-")
    ap.add_argument("--text-budget", type=int, default=10240)
    ap.add_argument("--stack-budget", type=int, default=1536)
    ap.add_argument("--insn-only", action="store_true")
    ap.add_argument("--firmware", action="store_true")
    ap.add_argument("--expect-refusal", action="store_true")
    ap.add_argument("objs", nargs="+")
    a = ap.parse_args()
    try:
        check_insns(a.tools, a.objs)
        if not a.insn_only:
            check_size(a.tools, a.objs, a.text_budget, a.firmware)
            check_symbols(a.tools, a.objs, a.firmware)
            check_stack(a.tools, a.objs, a.stack_budget)
    except (OSError, subprocess.CalledProcessError) as e:
        print("ERROR:", e, getattr(e, "stderr", "") or "")
        return 2
    for p in problems:
        print("FAIL:", p)
    if a.expect_refusal:
        print("refused, as expected" if problems else "FAIL: nothing refused")
        return 0 if problems else 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
