# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_platform.py: os-release parsing, facts, evaluation, message."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shlex
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import _platform
from ansible_collections.nsguard.docker.plugins.module_utils._platform import (
    PlatformError,
    SUPPORTED,
    architecture_facts,
    default_supported,
    describe_supported,
    evaluate,
    format_message,
    gather_facts,
    init_facts,
    normalise_architecture,
    normalise_supported,
    parse_os_release,
    parse_version,
    python_version,
    read_os_release,
)

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   'fixtures', 'platform')

SUPPORTED_TEXT = ('Supported: Ubuntu 22.04, 24.04; Debian 12, 13 on x86_64 or aarch64 with '
                  'systemd and Python >= 3.8. Nothing was changed.')


def fixture(name):
    return os.path.join(FIX, name + '.os-release')


def make_root(tmp_path, systemd=True, comm='systemd'):
    """A run/ and proc/ tree: run/systemd/system when ``systemd``, proc/1/comm unless None."""
    run = tmp_path / 'run'
    run.mkdir()
    if systemd:
        (run / 'systemd' / 'system').mkdir(parents=True)
    proc = tmp_path / 'proc'
    (proc / '1').mkdir(parents=True)
    if comm is not None:
        (proc / '1' / 'comm').write_text(comm + '\n')
    return str(run), str(proc)


@pytest.fixture
def root(tmp_path):
    return make_root(tmp_path)


def facts_for(name, root, machine='x86_64', version_info=(3, 12, 3, 'final', 0)):
    run, proc = root
    paths = (fixture(name),) if name else ()
    return gather_facts(os_release_paths=paths, run_root=run, proc_root=proc,
                        machine=machine, version_info=version_info)


# ---------------------------------------------------------------------------------------
# os-release files

@pytest.mark.parametrize('name, expected', [
    ('ubuntu-24.04', ('ubuntu', '24.04', 'noble', 'Ubuntu 24.04.1 LTS', ['debian'])),
    ('ubuntu-22.04', ('ubuntu', '22.04', 'jammy', 'Ubuntu 22.04.4 LTS', ['debian'])),
    ('ubuntu-20.04', ('ubuntu', '20.04', 'focal', 'Ubuntu 20.04.6 LTS', ['debian'])),
    ('debian-12', ('debian', '12', 'bookworm', 'Debian GNU/Linux 12 (bookworm)', [])),
    ('debian-13', ('debian', '13', 'trixie', 'Debian GNU/Linux 13 (trixie)', [])),
    ('debian-trixie-sid', ('debian', '', 'trixie', 'Debian GNU/Linux trixie/sid', [])),
    ('arch', ('arch', '', '', 'Arch Linux', [])),
    ('linuxmint-22', ('linuxmint', '22', 'wilma', 'Linux Mint 22', ['ubuntu', 'debian'])),
])
def test_fixture_facts(name, expected, root):
    facts = facts_for(name, root)
    got = (facts['distribution'], facts['version'], facts['codename'], facts['pretty_name'],
           facts['id_like'])
    assert got == expected
    assert facts['os_release_path'] == fixture(name)
    assert facts['os_release_error'] is None


def test_quoted_fixture():
    with open(fixture('quoted')) as handle:
        fields = parse_os_release(handle.read())
    assert fields == {
        'ID': 'Ubuntu',
        'VERSION_ID': '24.04',
        'PRETTY_NAME': 'Ubuntu "Noble" $HOME `id` back\\slash',
        'NAME': 'single "quoted" $not_expanded \\n',
        'ID_LIKE': 'debian  gnu',
        'VERSION_CODENAME': 'noble',
        'UNQUOTED': 'a b\\c',
        'CONCAT': 'abcdefghi',
        'KEEP_BACKSLASH': 'a\\nb',
        'INNER_QUOTE': 'a"b"',
        'HASH': 'not#a#comment',
        'EMPTY': '',
        'EMPTY_QUOTED': '',
        'MULTILINE': 'first\nsecond',
        'DUP': 'second',
    }


def test_quoted_fixture_facts(root):
    facts = facts_for('quoted', root)
    assert facts['distribution'] == 'ubuntu'  # ID is lower-cased
    assert facts['version'] == '24.04'
    assert facts['id_like'] == ['debian', 'gnu']
    assert evaluate(facts) == []


@pytest.mark.parametrize('text, expected', [
    ('', {}),
    ('\n\n   \n', {}),
    ('# ID=arch\n', {}),
    ('ID=debian', {'ID': 'debian'}),  # no final newline
    ('ID=debian\r\nVERSION_ID="12"\r\n', {'ID': 'debian', 'VERSION_ID': '12'}),  # CRLF
    (u'\ufeffID=debian\n', {'ID': 'debian'}),  # byte order mark
    ('ID="unterminated\n', {'ID': 'unterminated\n'}),
    ("ID='unterminated", {'ID': 'unterminated'}),
    ('ID=a \\\n b\n', {'ID': 'a  b'}),  # backslash-newline continues an unquoted value
    ('ID="a\\\nb"\n', {'ID': 'ab'}),  # and is dropped inside double quotes
    ('ID=trailing\\', {'ID': 'trailing'}),
    ('ID=x\\ \n', {'ID': 'x '}),  # an escaped blank is not trailing whitespace
    ('ID="a" b\n', {'ID': 'ab'}),  # systemd skips blanks after a closing quote
    ('  KEY  =  value  \n', {'KEY': 'value'}),
    ('A B=c\n=x\nnoequals\n', {}),
    ('_K1=v\n', {'_K1': 'v'}),
])
def test_parse_edge_cases(text, expected):
    assert parse_os_release(text) == expected


def test_fallback_to_usr_lib(tmp_path):
    usr = tmp_path / 'usr-lib-os-release'
    usr.write_text('ID=debian\nVERSION_ID="13"\n')
    path, fields, error = read_os_release((str(tmp_path / 'missing'), str(usr)))
    assert path == str(usr)
    assert fields == {'ID': 'debian', 'VERSION_ID': '13'}
    assert error is None


def test_first_file_wins(tmp_path):
    paths = (fixture('debian-12'), fixture('arch'))
    assert read_os_release(paths)[1]['ID'] == 'debian'


def test_missing_files(tmp_path, root):
    missing = (str(tmp_path / 'etc-os-release'), str(tmp_path / 'usr-lib-os-release'))
    path, fields, error = read_os_release(missing)
    assert (path, fields) == (None, {})
    assert error == 'no os-release file (%s, %s)' % missing
    run, proc = root
    facts = gather_facts(os_release_paths=missing, run_root=run, proc_root=proc,
                         machine='x86_64', version_info=(3, 12, 0))
    assert evaluate(facts) == [error]
    message = format_message(facts, evaluate(facts))
    assert message.startswith('This host is unknown (no os-release) (ID unset, VERSION_ID unset), '
                              'x86_64, init systemd, Python 3.12.0: no os-release file (')
    assert message.endswith(SUPPORTED_TEXT)


def test_path_below_a_file_is_missing(tmp_path):
    afile = tmp_path / 'file'
    afile.write_text('')
    path, _fields, error = read_os_release((str(afile / 'os-release'), fixture('debian-13')))
    assert path == fixture('debian-13') and error is None


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files without read permission')
def test_unreadable_file_does_not_fall_back(tmp_path):
    locked = tmp_path / 'os-release'
    locked.write_text('ID=debian\n')
    locked.chmod(0)
    try:
        path, fields, error = read_os_release((str(locked), fixture('debian-12')))
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert path == str(locked) and fields == {}
    assert error.startswith('cannot read %s: ' % locked)


def test_directory_is_an_error(tmp_path):
    path, _fields, error = read_os_release((str(tmp_path), fixture('debian-12')))
    assert path == str(tmp_path)
    assert error.startswith('cannot read %s: ' % tmp_path)


# ---------------------------------------------------------------------------------------
# hypothesis: generated assignments, quoted the way a shell would read them, parse back

KEYS = st.from_regex(r'\A[A-Za-z_][A-Za-z0-9_]{0,15}\Z', fullmatch=True)
# Any text a file can hold: no NUL, no surrogates.
VALUES = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
                 max_size=40)


def double_quote(value):
    return '"%s"' % ''.join('\\' + c if c in '"\\`$' else c for c in value)


def backslash_quote(value):
    """Unquoted, every character escaped (newlines and carriage returns cannot be)."""
    return ''.join('\\' + c for c in value)


@settings(max_examples=300, deadline=None)
@given(pairs=st.dictionaries(KEYS, VALUES, max_size=8),
       quoting=st.sampled_from(['shlex', 'double', 'single']),
       junk=st.lists(st.sampled_from(['', '# comment = "x', '   ', '; other comment', 'no assignment']),
                     max_size=3))
def test_round_trip(pairs, quoting, junk):
    quote = {'shlex': shlex.quote, 'double': double_quote,
             'single': lambda v: "'%s'" % v.replace("'", "'\"'\"'")}[quoting]
    lines = list(junk)
    for key, value in pairs.items():
        lines.append('%s=%s' % (key, quote(value)))
    assert parse_os_release('\n'.join(lines) + '\n') == pairs


@settings(max_examples=200, deadline=None)
@given(pairs=st.dictionaries(KEYS, VALUES.filter(lambda v: '\n' not in v and '\r' not in v), max_size=6))
def test_round_trip_unquoted_escapes(pairs):
    text = ''.join('%s=%s\n' % (key, backslash_quote(value)) for key, value in pairs.items())
    assert parse_os_release(text) == pairs


@settings(max_examples=100, deadline=None)
@given(pairs=st.dictionaries(KEYS, VALUES, max_size=6))
def test_round_trip_through_a_file(tmp_path_factory, pairs):
    path = tmp_path_factory.mktemp('osr') / 'os-release'
    with open(str(path), 'w', encoding='utf-8', newline='') as handle:
        handle.write(''.join('%s=%s\n' % (k, shlex.quote(v)) for k, v in pairs.items()))
    assert read_os_release((str(path),)) == (str(path), pairs, None)


# ---------------------------------------------------------------------------------------
# architecture, init, Python

@pytest.mark.parametrize('machine, arch, deb', [
    ('x86_64', 'x86_64', 'amd64'),
    ('amd64', 'x86_64', 'amd64'),
    ('aarch64', 'aarch64', 'arm64'),
    ('arm64', 'aarch64', 'arm64'),
    ('ARM64', 'aarch64', 'arm64'),
    ('armv7l', 'armv7l', 'armhf'),
    ('ppc64le', 'ppc64le', 'ppc64el'),
    ('mips64', 'mips64', 'mips64'),
])
def test_architecture(machine, arch, deb):
    assert normalise_architecture(machine) == (arch, deb)
    assert architecture_facts(machine) == {'machine': machine, 'architecture': arch,
                                           'deb_architecture': deb}


def test_architecture_of_this_host():
    assert architecture_facts()['machine'] == os.uname()[4]


def test_init_systemd(tmp_path):
    run, proc = make_root(tmp_path, systemd=True, comm='systemd')
    assert init_facts(run, proc) == {'init': 'systemd', 'systemd_booted': True, 'pid1_comm': 'systemd'}


def test_init_other(tmp_path):
    run, proc = make_root(tmp_path, systemd=False, comm='tini')
    assert init_facts(run, proc) == {'init': 'tini', 'systemd_booted': False, 'pid1_comm': 'tini'}


def test_init_unreadable_comm(tmp_path):
    run, proc = make_root(tmp_path, systemd=False, comm=None)
    assert init_facts(run, proc) == {'init': 'unknown', 'systemd_booted': False, 'pid1_comm': None}


def test_init_systemd_is_a_directory_test(tmp_path):
    run, proc = make_root(tmp_path, systemd=False, comm='systemd')
    (tmp_path / 'run' / 'systemd').mkdir()
    (tmp_path / 'run' / 'systemd' / 'system').write_text('')
    facts = init_facts(run, proc)
    assert facts['systemd_booted'] is False
    # a booted systemd names itself systemd in /proc/1/comm too; the directory decides
    assert facts['init'] == 'systemd'


def test_python_version():
    assert python_version((3, 8, 10, 'final', 0)) == '3.8.10'
    assert python_version() == '%d.%d.%d' % tuple(__import__('sys').version_info[:3])


@pytest.mark.parametrize('text, expected', [('3.8', (3, 8)), (' 3 ', (3,)), ('3.10.1', (3, 10, 1))])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize('text', ['', '3.', 'three', '3.8a', '.3'])
def test_parse_version_bad(text):
    with pytest.raises(PlatformError):
        parse_version(text)


# ---------------------------------------------------------------------------------------
# evaluation

@pytest.mark.parametrize('name', ['ubuntu-24.04', 'ubuntu-22.04', 'debian-12', 'debian-13'])
@pytest.mark.parametrize('machine', ['x86_64', 'aarch64', 'amd64', 'arm64'])
def test_supported_hosts(name, machine, root):
    assert evaluate(facts_for(name, root, machine=machine)) == []


@pytest.mark.parametrize('name, problem', [
    ('ubuntu-20.04', 'Ubuntu 20.04 is not a supported release'),
    ('debian-trixie-sid', 'no VERSION_ID (testing or unstable?)'),
    ('arch', 'distribution arch is not supported'),
    ('linuxmint-22', 'distribution linuxmint is not supported (ID_LIKE=ubuntu debian: '
                     'derivatives are not supported)'),
])
def test_unsupported_distributions(name, problem, root):
    assert evaluate(facts_for(name, root)) == [problem]


def test_no_id(tmp_path, root):
    path = tmp_path / 'os-release'
    path.write_text('NAME=Something\n')
    run, proc = root
    facts = gather_facts((str(path),), run, proc, 'x86_64', (3, 11, 0))
    assert evaluate(facts) == ['no ID in %s' % path]


def test_no_version_id_not_debian(tmp_path, root):
    path = tmp_path / 'os-release'
    path.write_text('ID=ubuntu\n')
    run, proc = root
    facts = gather_facts((str(path),), run, proc, 'x86_64', (3, 11, 0))
    assert evaluate(facts) == ['no VERSION_ID']


def test_every_problem_at_once(tmp_path):
    root = make_root(tmp_path, systemd=False, comm='openrc-init')
    facts = facts_for('arch', root, machine='armv7l', version_info=(3, 6, 15))
    problems = evaluate(facts)
    assert problems == [
        'distribution arch is not supported',
        'architecture armv7l (armhf) is not supported',
        'not booted with systemd (/run/systemd/system is not a directory)',
        'Python 3.6.15 is older than 3.8',
    ]
    assert format_message(facts, problems) == (
        'This host is Arch Linux (ID=arch, VERSION_ID unset), armv7l, init openrc-init, '
        'Python 3.6.15: distribution arch is not supported; architecture armv7l (armhf) is '
        'not supported; not booted with systemd (/run/systemd/system is not a directory); '
        'Python 3.6.15 is older than 3.8. ' + SUPPORTED_TEXT)


@pytest.mark.parametrize('version_info, ok', [
    ((3, 8, 0), True), ((3, 7, 17), False), ((3, 13, 1), True), ((2, 7, 18), False), ((4, 0, 0), True),
])
def test_python_minimum(version_info, ok, root):
    problems = evaluate(facts_for('debian-12', root, version_info=version_info))
    assert (problems == []) is ok


def test_python_minimum_compares_numbers(root):
    supported = normalise_supported(min_python='3.10')
    assert evaluate(facts_for('debian-12', root, version_info=(3, 9, 2)), supported) == [
        'Python 3.9.2 is older than 3.10']
    assert evaluate(facts_for('debian-12', root, version_info=(3, 10, 0)), supported) == []


# ---------------------------------------------------------------------------------------
# the table and the message

def test_default_table():
    assert SUPPORTED == {
        'distributions': {'ubuntu': ['22.04', '24.04'], 'debian': ['12', '13']},
        'architectures': ['x86_64', 'aarch64'],
        'init': 'systemd',
        'min_python': '3.8',
    }
    copy = default_supported()
    copy['distributions']['ubuntu'].append('20.04')
    assert SUPPORTED['distributions']['ubuntu'] == ['22.04', '24.04']
    assert normalise_supported() == SUPPORTED


def test_describe_supported():
    assert describe_supported() == ('Ubuntu 22.04, 24.04; Debian 12, 13 on x86_64 or aarch64 '
                                    'with systemd and Python >= 3.8')
    custom = normalise_supported(distributions={'Ubuntu': ['24.04', '22.04', '20.04'], 'fedora': 41},
                                 architectures=['amd64', 'arm64', 'ppc64le'], min_python='3.9')
    assert custom['distributions'] == {'ubuntu': ['24.04', '22.04', '20.04'], 'fedora': ['41']}
    assert custom['architectures'] == ['x86_64', 'aarch64', 'ppc64le']
    assert describe_supported(custom) == ('Ubuntu 20.04, 22.04, 24.04; fedora 41 on x86_64, aarch64 '
                                          'or ppc64le with systemd and Python >= 3.9')


@pytest.mark.parametrize('kwargs', [
    {'distributions': {'ubuntu': [22.04]}},
    {'distributions': {'ubuntu': [True]}},
    {'distributions': {'ubuntu': ['']}},
    {'distributions': {'ubuntu': [{'a': 1}]}},
    {'distributions': {}},
    {'distributions': ['ubuntu']},
    {'distributions': {'': ['1']}},
    {'architectures': []},
    {'architectures': 'x86_64'},
    {'architectures': ['']},
    {'min_python': 'three'},
])
def test_normalise_supported_refuses(kwargs):
    with pytest.raises(PlatformError):
        normalise_supported(**kwargs)


def test_empty_release_list_supports_no_release(root):
    supported = normalise_supported(distributions={'debian': None})
    assert evaluate(facts_for('debian-12', root), supported) == ['Debian 12 is not a supported release']
    assert describe_supported(supported).startswith('Debian (no release) on ')


def test_message_with_role(root):
    facts = facts_for('ubuntu-20.04', root)
    message = format_message(facts, evaluate(facts), role='engine')
    assert message == (
        'This host is Ubuntu 20.04.6 LTS (ID=ubuntu, VERSION_ID=20.04), x86_64, init systemd, '
        'Python 3.12.3: Ubuntu 20.04 is not a supported release. nsguard.docker.engine supports '
        'Ubuntu 22.04, 24.04; Debian 12, 13 on x86_64 or aarch64 with systemd and Python >= 3.8. '
        'Nothing was changed.')
    assert 'other.coll.role supports' in format_message(facts, ['x'], role='other.coll.role')


def test_message_for_sid(root):
    facts = facts_for('debian-trixie-sid', root, machine='aarch64')
    assert format_message(facts, evaluate(facts)) == (
        'This host is Debian GNU/Linux trixie/sid (ID=debian, VERSION_ID unset), aarch64, '
        'init systemd, Python 3.12.3: no VERSION_ID (testing or unstable?). ' + SUPPORTED_TEXT)


def test_gather_facts_defaults_to_this_host(monkeypatch, tmp_path):
    run, proc = make_root(tmp_path, systemd=True, comm='systemd')
    monkeypatch.setattr(_platform, 'OS_RELEASE_PATHS', (fixture('debian-13'),))
    monkeypatch.setattr(_platform, 'RUN_ROOT', run)
    monkeypatch.setattr(_platform, 'PROC_ROOT', proc)
    facts = gather_facts()
    assert facts['distribution'] == 'debian' and facts['init'] == 'systemd'
    assert facts['machine'] == os.uname()[4]
    assert set(facts) == {
        'distribution', 'version', 'codename', 'pretty_name', 'id_like', 'os_release_path',
        'os_release_error', 'machine', 'architecture', 'deb_architecture', 'init',
        'systemd_booted', 'pid1_comm', 'python'}
