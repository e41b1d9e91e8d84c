"""The generator benchmark: a schema of 500 commands (1,000 messages), generated and
compiled, each timed (user CPU seconds and peak memory of the compiler).

  generate   ember-codegen on the schema (the best of 3 runs)
  messages   one translation unit with everything generated: NAME.hpp, its codecs (NAME.cpp),
             the server and client headers; -O0 and -O2, with the compiler's peak memory
  separate   the same with EMBER_SEPARATE_COMPILATION (the runtime compiled once elsewhere in
             the program, as dependency('ember') builds it): what a game's schema costs
  dispatch   one translation unit with a handler of all 500 commands (one coroutine each) and
             the generated register_commands filling a dispatch table

usage: codegen_bench.py BUILD_DIR [--commands 500] [--json]
BUILD_DIR holds codegen/ember-codegen (any configured build). Needs g++ and /usr/bin/time.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def schema(n):
    out = ['[schema]', 'name = "big"', '']
    for i in range(n):
        out += ['[[command]]', f'id = {1000 + i}', f'name = "command_{i}"', 'server = "game"',
                'request = [ { tag = 1, name = "player", type = "u64" }, { tag = 2, name = "name", type = "string" },',
                '            { tag = 3, name = "values", type = "list<u32>" } ]',
                'reply = [ { tag = 1, name = "code", type = "u32" }, { tag = 2, name = "text", type = "string" } ]', '']
    return '\n'.join(out)


def handler_tu(n):
    lines = ['#include "big_server.hpp"', '', 'namespace {', 'class game final : public big::game_handler {', ' public:']
    for i in range(n):
        lines += [f'  asio::awaitable<big::command_{i}_reply> command_{i}(ember::net::session&, '
                  f'const big::command_{i}_request& r) override {{',
                  f'    co_return big::command_{i}_reply{{static_cast<std::uint32_t>(r.values.size()), r.name}};', '  }']
    lines += ['};', '}  // namespace', '', 'std::size_t fill(ember::net::dispatch_table& t) {',
              '  static game g;', '  big::register_commands(t, g);', '  return 0;', '}']
    return '\n'.join(lines) + '\n'


def compile_tu(src, opt, d, defines=()):
    cmd = ['/usr/bin/time', '-f', '%U %M', 'g++', '-std=c++20', opt, '-DASIO_NO_DEPRECATED', *defines, '-I', d,
           '-I', os.path.join(ROOT, 'include'), '-c', src, '-o', os.path.join(d, 'out.o')]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    seconds, kib = r.stderr.strip().split('\n')[-1].split()
    return float(seconds), int(kib) / 1024


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--commands', type=int, default=500)
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args(argv[1:])
    codegen = os.path.join(a.build, 'codegen', 'ember-codegen')
    result = {'commands': a.commands, 'messages': 2 * a.commands}
    with tempfile.TemporaryDirectory(prefix='ember-codegen-bench-') as d:
        with open(os.path.join(d, 'big.toml'), 'w') as f:
            f.write(schema(a.commands))
        best = None
        for _ in range(3):
            t0 = time.monotonic()
            subprocess.run([codegen, os.path.join(d, 'big.toml'), '--out-dir', d], check=True)
            took = time.monotonic() - t0
            best = took if best is None else min(best, took)
        result['generate_s'] = round(best, 3)
        print(f'generate: {best:.2f} s for {a.commands} commands', file=sys.stderr)
        with open(os.path.join(d, 'messages.cpp'), 'w') as f:
            f.write('#include "big.cpp"\n#include "big_server.hpp"\n#include "big_client.hpp"\n')
        with open(os.path.join(d, 'dispatch.cpp'), 'w') as f:
            f.write(handler_tu(a.commands))
        for name, src, defines in (('messages', 'messages', ()),
                                   ('separate', 'messages', ('-DEMBER_SEPARATE_COMPILATION',)),
                                   ('dispatch', 'dispatch', ())):
            for opt in ('-O0', '-O2'):
                seconds, mib = compile_tu(os.path.join(d, src + '.cpp'), opt, d, defines)
                result[f'{name}{opt}_s'] = seconds
                result[f'{name}{opt}_mib'] = round(mib)
                print(f'{name} {opt}: {seconds:.1f} s, {mib:.0f} MiB', file=sys.stderr)
    if a.json:
        print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
