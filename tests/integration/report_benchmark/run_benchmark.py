# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the audit play's report step (nsguard.docker.audit_report) on N synthetic hosts.

For each N, play.yml runs twice on an inventory of N hosts with ansible_connection=local:
without the report step (--skip-tags report_step) and with it. Each host's results are
recorded module results, about 10 KB per host: namespace_mode and socket_exposure run on
the fake hosts of the unit tests (tests/unit/fixtures/audit/fakehost.py), set per host
with set_fact. Printed per N: both plays' wall time, the report task's own time (from the
lab's task_times callback, tests/lab/callback_plugins), the report's cost relative to the play without it, and
the controller's memory: the peak RSS of its largest process (wait4) and the peak of the
proportional set size of the whole process tree (sampled every 0.2 s; forked workers share
most of their pages with the main process, which RSS would count again in each).

    .venv/bin/python tests/integration/report_benchmark/run_benchmark.py --hosts 200,500,1000,2000
    .venv/bin/python tests/integration/report_benchmark/run_benchmark.py --hosts 10000 --only-with-report

Needs the collection importable as nsguard.docker (tests/setup.sh makes .cache/collections).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
COLLECTIONS = os.path.join(REPO, '.cache', 'collections')
VARIANTS = ('build_web_host', 'build_db_host', 'build_exposed_host')


def record_results(path):
    """The recorded results: both modules run on three fake hosts, as registered."""
    sys.path[:0] = [COLLECTIONS, os.path.join(REPO, 'tests', 'unit', 'plugins')]
    from audit_helpers import fakehost  # pylint: disable=import-outside-toplevel,import-error
    from ansible_collections.nsguard.docker.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        namespace_audit, socket_audit)
    results = []
    for builder in VARIANTS:
        host = fakehost.FakeHost()
        try:
            getattr(fakehost, builder)(host)
            results.append({
                'namespace_mode': dict(namespace_audit.run_audit(host.fs()), changed=False,
                                       invocation={'module_args': {'connect_idle_sockets': False}}),
                'socket_exposure': dict(socket_audit.run_audit(host.fs(), unit_dirs=[host.units]), changed=False,
                                        invocation={'module_args': {'allow_users': [], 'allow_groups': []}}),
            })
        finally:
            host.close()
    with open(path, 'w') as handle:
        json.dump({'bench_results': results}, handle)
    return sum(len(json.dumps(r)) for r in results) // len(results)


def write_inventory(path, hosts):
    with open(path, 'w') as handle:
        handle.write('[bench]\n')
        for index in range(hosts):
            handle.write('h%05d bench_variant=%d\n' % (index, index % len(VARIANTS)))
        handle.write('\n[bench:vars]\nansible_connection=local\nansible_python_interpreter=%s\n' % sys.executable)


def _tree_pss_kib(root):
    """Proportional set size of ``root`` and all its descendants, KiB."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open('/proc/%d/smaps_rollup' % pid) as handle:
                for line in handle:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1])
                        break
            for task in os.listdir('/proc/%d/task' % pid):
                with open('/proc/%d/task/%s/children' % (pid, task)) as handle:
                    todo.extend(int(child) for child in handle.read().split())
        except (IOError, OSError, ValueError):
            continue
    return total


def run_play(workdir, inventory, with_report):
    """One ansible-playbook run: (wall seconds, report task seconds, max RSS MiB, peak tree PSS MiB)."""
    times_path = os.path.join(workdir, 'times.jsonl')
    if os.path.exists(times_path):
        os.unlink(times_path)  # the callback appends a line per playbook run
    # The lab's task_times callback: one JSON line per run, its tasks as [name, seconds].
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CALLBACKS_ENABLED='task_times',
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO, 'tests', 'lab', 'callback_plugins'),
               NSGUARD_TASK_TIMES=times_path,
               ANSIBLE_HOST_KEY_CHECKING='False',
               ANSIBLE_RETRY_FILES_ENABLED='False', ANSIBLE_LOCAL_TEMP=os.path.join(workdir, 'tmp'))
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
               os.path.join(HERE, 'play.yml'), '-e', 'bench_results_file=%s' % os.path.join(workdir, 'results.json'),
               '-e', 'bench_report_dir=%s' % os.path.join(workdir, 'report')]
    if not with_report:
        command += ['--skip-tags', 'report_step']
    peak = [0]
    log_path = os.path.join(workdir, 'ansible-playbook.log')
    start = time.monotonic()
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

        def sample():
            while proc.returncode is None:
                peak[0] = max(peak[0], _tree_pss_kib(proc.pid))
                time.sleep(0.2)
        sampler = threading.Thread(target=sample)
        sampler.daemon = True
        sampler.start()
        dummy, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
    if proc.returncode:
        with open(log_path) as log:
            raise SystemExit('ansible-playbook failed (%d):\n%s' % (proc.returncode, log.read()[-4000:]))
    with open(times_path) as handle:
        (record,) = [json.loads(line) for line in handle if line.strip()]
    report = sum(seconds for name, seconds in record['tasks'] if name == 'Write the fleet report on the controller')
    return seconds, report, usage.ru_maxrss / 1024.0, peak[0] / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--hosts', default='200,500,1000,2000', help='comma-separated numbers of hosts')
    parser.add_argument('--only-with-report', action='store_true', help='skip the play without the report')
    parser.add_argument('--keep', action='store_true', help='keep the work directory (report files)')
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix='nsguard-report-bench-')
    try:
        size = record_results(os.path.join(workdir, 'results.json'))
        print('recorded results: %d bytes of JSON per host (both modules)' % size)
        print('| hosts | play without report (s) | play with report (s) | report task (s) | report / play without '
              '| max RSS (MiB) | peak PSS of all processes (MiB) |')
        print('|---:|---:|---:|---:|---:|---:|---:|')
        for count in [int(n) for n in args.hosts.split(',')]:
            inventory = os.path.join(workdir, 'hosts-%d.ini' % count)
            write_inventory(inventory, count)
            shutil.rmtree(os.path.join(workdir, 'report'), ignore_errors=True)
            without = None if args.only_with_report else run_play(workdir, inventory, False)
            with_report = run_play(workdir, inventory, True)
            print('| %d | %s | %.1f | %.2f | %s | %.0f | %.0f |' % (
                count, '-' if without is None else '%.1f' % without[0], with_report[0], with_report[1],
                '-' if without is None else '%.1f %%' % (100.0 * with_report[1] / without[0]),
                with_report[2], with_report[3]))
            sys.stdout.flush()
        if args.keep:
            print('report files: %s' % os.path.join(workdir, 'report'))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
