"""The README's quick start shows the code of examples/quickstart, character for character:
its schema (step 2) and its handler and main() (step 3). Meson builds that example with
-Wall -Wextra -Werror, so a quick start that stops compiling cleanly fails the build, and one
that drifts from the example fails here, naming the step.

usage: check_readme.py README.md game.toml main.cpp
"""
import sys
import textwrap


def blocks(readme):
    """The fenced blocks of the quick start section, by language, in order."""
    section = readme.split('## Quick start', 1)[1].split('\n## ', 1)[0]
    found = []
    parts = section.split('```')
    for i in range(1, len(parts), 2):
        lang, _, body = parts[i].partition('\n')
        found.append((lang.strip(), textwrap.dedent(body).rstrip() + '\n'))
    return found


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding='utf-8') as f:
        shown = blocks(f.read())
    failed = 0
    for step, lang, path in (('2 (the schema)', 'toml', argv[2]), ('3 (the handler)', 'cpp', argv[3])):
        with open(path, encoding='utf-8') as f:
            want = f.read()
        bodies = [body for l, body in shown if l == lang]
        if want not in bodies:
            failed += 1
            print(f'README.md quick start, step {step}: no ```{lang} block equals {path}')
    print('the quick start shows the example' if not failed else f'{failed} step(s) differ')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
