"""The build benchmark: what compiling a program on ember costs, beside a raw Asio coroutine echo
server compiled in the same run (the yardstick), and optionally beside another commit of ember.

For each tree it configures a build of its own (Meson's defaults: debugoptimized, -g), builds
the generated headers, then compiles one file at a time with the flags Meson gives it and
records the compiler's user CPU time and peak resident memory:

  asio_echo      the yardstick: one file, C++20 Asio coroutines, no ember
  chat_server    examples/chat/chat_server.cpp, a first server (target: <= 1.5x asio_echo)
  chat_bot       examples/chat/chat_bot.cpp, a client
  world_module   examples/cluster/world_module.cpp, a hot-reloadable game module, and its
  game_logic     logic's files: one per server type (a tree without them has the logic in
  front_logic    world_module.cpp's header; its figure is then the whole module's)
  echo_server    tools/bench/echo_server.cpp
  runtime        the runtime compiled once (libember's and libember-data's single files;
                 a tree without separate compilation has none)

  --full-build   also the wall time of a clean `ninja` of the whole tree on every core
  --touch        also: touch chat_server.cpp, rebuild and run the chat example's test (wall)

usage: compile_bench.py [--baseline REV] [--full-build] [--touch] [--json]
Needs git, meson, ninja, g++ and /usr/bin/time. Takes a few minutes per tree (much more with
--full-build); run it on a quiet machine.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ASIO_ECHO = r'''// The yardstick: Asio's C++20 coroutine echo server, one file.
#include <cstdio>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
  try {
    char data[1024];
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception& e) {
    std::printf("echo: %s\n", e.what());
  }
}

asio::awaitable<void> listener() {
  auto executor = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(executor, {tcp::v4(), 55555});
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    asio::co_spawn(executor, echo(std::move(socket)), asio::detached);
  }
}

int main() {
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { io.stop(); });
  asio::co_spawn(io, listener(), asio::detached);
  io.run();
}
'''

FILES = {
    'chat_server': 'examples/chat/chat_server.cpp',
    'chat_bot': 'examples/chat/chat_bot.cpp',
    'world_module': 'examples/cluster/world_module.cpp',
    'game_logic': 'examples/cluster/game_logic.cpp',
    'front_logic': 'examples/cluster/front_logic.cpp',
    'echo_server': 'tools/bench/echo_server.cpp',
}
RUNTIME = ('ember_runtime.cpp', 'ember_data_runtime.cpp')


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{r.stdout[-2000:]}{r.stderr[-3000:]}')
    return r.stdout


def timed_compile(command, directory, out):
    """Runs one compile command (Meson's, with its output and dependency files redirected);
    returns (user seconds, peak MiB)."""
    args = shlex.split(command)
    clean = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ('-MD',):
            continue
        if a in ('-MQ', '-MF', '-o'):
            skip = True
            continue
        clean.append(a)
    clean += ['-o', out]
    r = subprocess.run(['/usr/bin/time', '-f', '%U %M'] + clean, cwd=directory, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    user, kib = r.stderr.strip().split('\n')[-1].split()
    return float(user), int(kib) / 1024


def measure_tree(label, src, work, a):
    build = os.path.join(work, 'build-' + label)
    log(f'[{label}] configure {src}')
    run(['meson', 'setup', build, src, '-Dtests=false'])
    # the generated headers and nothing else
    targets = run(['ninja', '-C', build, '-t', 'targets', 'all'])
    generated = [t.split(':')[0] for t in targets.splitlines()
                 if t.split(':')[0].endswith(('.hpp', '.cpp')) and 'CUSTOM_COMMAND' in t]
    run(['ninja', '-C', build] + generated)
    with open(os.path.join(build, 'compile_commands.json')) as f:
        commands = json.load(f)
    result = {}

    def find(path_tail):
        for e in commands:
            if os.path.normpath(os.path.join(e['directory'], e['file'])).endswith(path_tail):
                return e
        return None

    # the yardstick, with chat_server's flags (same -O, -g and warnings) but no ember
    chat = find(FILES['chat_server'])
    echo_src = os.path.join(work, f'asio_echo_{label}.cpp')
    with open(echo_src, 'w') as f:
        f.write(ASIO_ECHO)
    echo_cmd = chat['command'].replace(chat['file'], echo_src)
    entries = [('asio_echo', echo_cmd, chat['directory'])]
    for name, path in FILES.items():
        e = find(path)
        if e:
            entries.append((name, e['command'], e['directory']))
    runtime_s, runtime_mib = 0.0, 0.0
    for unit in RUNTIME:
        e = find(unit)
        if e:
            entries.append(('runtime:' + unit, e['command'], e['directory']))
    for name, command, directory in entries:
        user, mib = timed_compile(command, directory, os.path.join(work, 'out.o'))
        log(f'[{label}] {name:32} {user:6.1f} s user  {mib:6.0f} MiB')
        if name.startswith('runtime:'):
            runtime_s += user
            runtime_mib = max(runtime_mib, mib)
        else:
            result[name] = {'user_s': round(user, 2), 'peak_mib': round(mib)}
    if runtime_s:
        result['runtime'] = {'user_s': round(runtime_s, 2), 'peak_mib': round(runtime_mib)}
    if a.full_build:
        full = os.path.join(work, 'full-' + label)
        run(['meson', 'setup', full, src])
        log(f'[{label}] clean build of everything (ninja, every core) ...')
        t0 = time.monotonic()
        run(['ninja', '-C', full])
        took = time.monotonic() - t0
        log(f'[{label}] clean build: {took:.0f} s')
        result['full_build_s'] = round(took)
        if a.touch:
            os.utime(os.path.join(src, FILES['chat_server']))
            t0 = time.monotonic()
            run(['ninja', '-C', full])
            run(['meson', 'test', '-C', full, '--no-rebuild',
                 'chat example - bots log in, chat in a room and hear each other'])
            took = time.monotonic() - t0
            log(f'[{label}] touch chat_server.cpp, rebuild, run its test: {took:.1f} s')
            result['touch_rebuild_test_s'] = round(took, 1)
    return result


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--baseline', help='a git revision of ember to measure beside this tree')
    ap.add_argument('--full-build', action='store_true', help='time a clean build of each tree')
    ap.add_argument('--touch', action='store_true', help='with --full-build: time a one-file rebuild and its test')
    ap.add_argument('--json', action='store_true', help='print the figures as JSON on standard output')
    a = ap.parse_args(argv[1:])
    results = {}
    with tempfile.TemporaryDirectory(prefix='ember-compile-bench-') as work:
        trees = [('current', ROOT)]
        if a.baseline:
            base = os.path.join(work, 'baseline-src')
            run(['git', '-C', ROOT, 'worktree', 'add', '--detach', base, a.baseline])
            trees.append(('baseline', base))
        try:
            for label, src in trees:
                results[label] = measure_tree(label, src, work, a)
        finally:
            if a.baseline:
                subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', base])
    log('')
    log(f'{"file":14} ' + ' '.join(f'{label:>22}' for label in results))
    names = list(next(iter(results.values())).keys())
    for name in names:
        cells = []
        for label in results:
            r = results[label].get(name)
            if isinstance(r, dict):
                yard = results[label]['asio_echo']['user_s']
                cells.append(f'{r["user_s"]:6.1f} s {r["peak_mib"]:5} MiB {r["user_s"] / yard:4.1f}x')
            elif r is not None:
                cells.append(f'{r:>20} s')
            else:
                cells.append(f'{"-":>22}')
        log(f'{name:14} ' + ' '.join(f'{c:>22}' for c in cells))
    log('(user CPU seconds, peak resident memory, and the ratio to asio_echo of the same tree)')
    if a.json:
        print(json.dumps(results))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
