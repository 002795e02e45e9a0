# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The case tables of the role-variables campaign (tests/campaign/role_vars/run.sh), generated from the roles' own
``meta/argument_specs.yml``, so a variable added to a spec is covered without editing this file.

    python cases.py ROOT OUTDIR

writes into OUTDIR:

- ``argspec.json``: the argument-spec cases, for every option of every role (suboptions and list elements too):
  per type, values of the wrong type that the spec must refuse; per ``choices``, values outside them; per dict
  with options, an unknown key; per list of dicts, an entry without a required key. Each case says what the
  message must name: the variable (always), the suboption, and the value where Ansible's message includes it
  (choices: ``got: VALUE``; booleans: ``The value 'VALUE'``).
- ``include_<role>.yml``: one task file per role that runs the role with EVERY variable of its spec set from
  ``role_vars_case_vars`` (defaults, then the campaign's base, then the case), so no value leaks from one case
  into the next (role_checks.yml includes it per case).
- ``role.json``: the role-check cases of ``role_cases.yml``, checked against the specs: every variable a case sets
  exists in its role's spec.

Types the spec converts instead of refusing (``str`` and ``path`` take any scalar, list or dict as text; a
``list`` of ``str`` takes a comma-separated string) have no argument-spec case: those values must be refused by the
role's own checks, and role_cases.yml has them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import yaml

ROLES = ('kvm_bridge_host', 'kvm_guest_nics')
# What a role case runs: kvm_bridge_host its preflight only (read-only, every refusal before a change), kvm_guest_nics
# all of it (its module validates before it connects).
TASKS_FROM = dict(kvm_bridge_host='preflight', kvm_guest_nics='main')
# Wrong-type values per spec type, with whether Ansible's message quotes the value.
WRONG = {
    'bool': [('maybe', True), (2, True), ([True], False), ({'a': 1}, False)],
    'int': [('x', False), (1.5, False), ([1], False), ({'a': 1}, False)],
    'float': [('abc', False), ([1], False), ({'a': 1}, False)],
    'list': [({'a': 1}, False)],
    'dict': [('plain words', False)],
}
ELEMENTS_WRONG = {'dict': [('x', False)]}


def spec_of(root, role):
    with open(os.path.join(root, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def minimal(options):
    """The smallest valid entry of a list of dicts: its required keys, each with a valid value."""
    entry = {}
    for name, option in sorted(options.items()):
        if option.get('required'):
            entry[name] = option['choices'][0] if option.get('choices') else 'x'
    return entry


def option_cases(path, option, wrap):
    """Cases for one option; ``path`` names it (``var`` or ``var.sub``), ``wrap(value)`` builds the variable's
    value around the option's value."""
    cases = []
    kind = option.get('type', 'str')
    for value, quoted in WRONG.get(kind, []):
        cases.append(dict(path=path, value=wrap(value), bad=value, quoted=quoted, why='wrong type for %s' % kind))
    if kind == 'list':
        for value, quoted in ELEMENTS_WRONG.get(option.get('elements'), []):
            cases.append(dict(path=path, value=wrap([value]), bad=value, quoted=quoted,
                              why='element of the wrong type for elements=%s' % option.get('elements')))
    for value in ('bogus', str(option.get('choices', [''])[0]).upper() + 'X', '',
                  '%s\n' % (option.get('choices') or [''])[0]) if option.get('choices') else ():
        cases.append(dict(path=path, value=wrap(value), bad=value, quoted=True, why='outside choices'))
    suboptions = option.get('options') or {}
    if kind == 'dict' and suboptions:
        cases.append(dict(path=path + '.bogus', value=wrap({'bogus': 1}), bad=None, quoted=False,
                          why='unknown key'))
        for name, sub in sorted(suboptions.items()):
            cases += option_cases('%s.%s' % (path, name), sub, lambda value, name=name: wrap({name: value}))
    if kind == 'list' and option.get('elements') == 'dict' and suboptions:
        base = minimal(suboptions)
        cases.append(dict(path=path + '.bogus', value=wrap([dict(base, bogus=1)]), bad=None, quoted=False,
                          why='unknown key in an entry'))
        for name, sub in sorted(suboptions.items()):
            if sub.get('required'):
                entry = dict((key, value) for key, value in base.items() if key != name)
                cases.append(dict(path='%s.%s' % (path, name), value=wrap([entry]), bad=None, quoted=False,
                                  why='required key missing'))
            cases += option_cases('%s.%s' % (path, name), sub,
                                  lambda value, name=name: wrap([dict(base, **{name: value})]))
    return cases


def argspec_cases(root):
    cases = []
    for role in ROLES:
        for name, option in sorted(spec_of(root, role).items()):
            for case in option_cases(name, option, lambda value: value):
                var = case['path'].split('.')[0]
                names = case['path'].split('.')
                case.update(role=role, var=var, value={var: case['value']},
                            names=names + ([] if not case['quoted'] else [str(case['bad'])]))
                case['id'] = '%s %s=%s (%s)' % (role, case['path'], json.dumps(case['bad']), case['why'])
                cases.append(case)
    return cases


def include_file(root, role):
    """The per-case include of ``role`` with every variable of its spec (see the module docstring)."""
    names = sorted(spec_of(root, role))
    lines = ['---', '# generated by tests/campaign/role_vars/cases.py from roles/%s/meta/argument_specs.yml' % role,
             '- name: Role case | run the role | {{ role_vars_case.name }}',
             '  ansible.builtin.include_role:',
             '    name: kvmnet.bridge.%s' % role,
             '    tasks_from: %s' % TASKS_FROM[role],
             '  vars:']
    lines += ['    %s: "{{ role_vars_case_vars[%r] }}"' % (name, name) for name in names]
    return '\n'.join(lines) + '\n', names


def main(argv):
    root, out = argv[1], argv[2]
    cases = argspec_cases(root)
    with open(os.path.join(out, 'argspec.json'), 'w') as handle:
        json.dump(cases, handle, indent=1, sort_keys=True)
    variables = {}
    for role in ROLES:
        text, names = include_file(root, role)
        variables[role] = names
        with open(os.path.join(out, 'include_%s.yml' % role), 'w') as handle:
            handle.write(text)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'role_cases.yml')) as handle:
        table = yaml.safe_load(handle)
    problems = []
    for case in table['cases']:
        unknown = sorted(set(case.get('vars', {})) - set(variables[case['role']]))
        if unknown:
            problems.append('%s: %s not in the spec of %s' % (case['name'], ', '.join(unknown), case['role']))
    if problems:
        sys.stderr.write('role_cases.yml: %s\n' % '; '.join(problems))
        return 1
    defaults = {}
    for role in ROLES:
        with open(os.path.join(root, 'roles', role, 'defaults', 'main.yml')) as handle:
            defaults[role] = yaml.safe_load(handle) or {}
    with open(os.path.join(out, 'role.json'), 'w') as handle:
        json.dump(dict(cases=table['cases'], base=table['base'], defaults=defaults), handle, indent=1,
                  sort_keys=True)
    print('%d argspec cases over %d variables, %d role-check cases'
          % (len(cases), sum(len(names) for names in variables.values()), len(table['cases'])))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
