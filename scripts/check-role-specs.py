# Copyright (c) kvmnet.bridge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that every role's defaults/main.yml and meta/argument_specs.yml agree, and that its README is current.

    python scripts/check-role-specs.py [ROLE_DIR ...]      (default: every roles/*/; run by scripts/lint.sh)

For each role (internal roles starting with `_` included):
- meta/argument_specs.yml exists and has a `main` entry point;
- every option of every entry point is named ROLE_* (the role's prefix; private variables are __ROLE_* and are
  never options), has a description and a type;
- defaults/main.yml and the `main` entry point have the same variables, with equal defaults (an option without
  `default` in the specs means null), and no required option has a default;
- each default has the declared type (and is one of the choices, where there are choices), also in suboptions;
- every public variable of the role's prefix that the role's tasks, vars, templates or handlers use is an option
  (a variable that only exists in the code is an undocumented interface);
- the README's variable table is what scripts/role-readme.py generates from the specs.
Prints every problem found, then exits 1 if there was any.
"""

import glob
import importlib.util
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = {
    'str': (str,), 'path': (str,), 'raw': (object,), 'bool': (bool,), 'int': (int,), 'float': (int, float),
    'list': (list,), 'dict': (dict,),
}


def same(one, other):
    """Equal, and a bool only equals a bool (in Python, False == 0 and True == 1)."""
    return one == other and isinstance(one, bool) == isinstance(other, bool)


def load_readme_module():
    spec = importlib.util.spec_from_file_location('role_readme', os.path.join(ROOT, 'scripts', 'role-readme.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def type_problems(name, spec, value):
    """Problems of one default value against its spec (None is always acceptable: unset)."""
    if value is None:
        return []
    kind = spec.get('type', 'str')
    expected = TYPES.get(kind)
    if expected is None:
        return ['%s: unknown type %r' % (name, kind)]
    if not isinstance(value, expected) or (kind in ('int', 'float') and isinstance(value, bool)):
        return ['%s: default %r is not of type %s' % (name, value, kind)]
    problems = []
    if spec.get('choices') and kind != 'list' and value not in spec['choices']:
        problems.append('%s: default %r is not one of the choices %s' % (name, value, spec['choices']))
    if kind == 'list':
        elements = spec.get('elements')
        for index, element in enumerate(value):
            problems.extend(type_problems('%s[%d]' % (name, index), {'type': elements or 'raw'}, element))
            if elements == 'dict' and spec.get('options') and isinstance(element, dict):
                problems.extend(dict_problems('%s[%d]' % (name, index), spec['options'], element))
    if kind == 'dict' and spec.get('options'):
        problems.extend(dict_problems(name, spec['options'], value))
    return problems


def dict_problems(name, options, value):
    problems = ['%s: key %r is not a suboption (known: %s)' % (name, key, ', '.join(sorted(options)))
                for key in value if key not in options]
    for key, sub in options.items():
        sub = sub or {}
        if key in value:
            problems.extend(type_problems('%s.%s' % (name, key), sub, value[key]))
        elif sub.get('required'):
            problems.append('%s: required suboption %r missing' % (name, key))
    return problems


def spec_problems(role, options, prefix, where):
    problems = []
    for name, spec in sorted(options.items()):
        spec = spec or {}
        if prefix and not name.startswith(prefix):
            problems.append('%s: option %s does not start with the role prefix %s' % (where, name, prefix))
        if not spec.get('description'):
            problems.append('%s: option %s has no description' % (where, name))
        if 'type' not in spec:
            problems.append('%s: option %s has no type' % (where, name))
        if spec.get('options'):
            problems.extend(spec_problems(role, spec['options'], '', '%s.%s' % (where, name)))
        if spec.get('required') and 'default' in spec:
            problems.append('%s: option %s is required and has a default' % (where, name))
    return problems


def used_public_variables(role_dir, prefix):
    pattern = re.compile(r'(?<![\w.])(%s[a-z0-9_]+)' % re.escape(prefix))
    used = {}
    for sub in ('tasks', 'vars', 'templates', 'handlers'):
        for path in glob.glob(os.path.join(role_dir, sub, '**', '*'), recursive=True):
            if not os.path.isfile(path):
                continue
            with open(path) as handle:
                for number, line in enumerate(handle, 1):
                    for match in pattern.finditer(line):
                        used.setdefault(match.group(1), '%s:%d' % (os.path.relpath(path, ROOT), number))
    return used


def check_role(role_dir, readme):
    role = os.path.basename(role_dir.rstrip('/'))
    prefix = role.lstrip('_') + '_'
    here = os.path.relpath(role_dir, ROOT)
    specs_path = os.path.join(role_dir, 'meta', 'argument_specs.yml')
    if not os.path.exists(specs_path):
        return ['%s: meta/argument_specs.yml is missing (every entry point needs argument specs)' % here]
    specs = (load_yaml(specs_path) or {}).get('argument_specs') or {}
    if 'main' not in specs:
        return ['%s: meta/argument_specs.yml has no `main` entry point' % here]
    problems = []
    for entry, spec in sorted(specs.items()):
        problems.extend(spec_problems(role, spec.get('options') or {}, prefix,
                                      '%s/meta/argument_specs.yml %s' % (here, entry)))
    options = specs['main'].get('options') or {}
    defaults_path = os.path.join(role_dir, 'defaults', 'main.yml')
    defaults = (load_yaml(defaults_path) or {}) if os.path.exists(defaults_path) else {}
    for name in sorted(set(defaults) - set(options)):
        problems.append('%s: %s is in defaults/main.yml but not in the specs of `main`' % (here, name))
    for name, spec in sorted(options.items()):
        spec = spec or {}
        if name not in defaults:
            if not spec.get('required'):
                problems.append('%s: %s is in the specs but not in defaults/main.yml (give it a default there, or'
                                ' make it required)' % (here, name))
            continue
        spec_default = spec.get('default', None)
        if not same(defaults[name], spec_default):
            problems.append('%s: default of %s differs: defaults/main.yml has %r, the specs have %r'
                            % (here, name, defaults[name], spec_default))
        problems.extend('%s: %s' % (here, problem) for problem in type_problems(name, spec, defaults[name]))
    declared = set()
    for spec in specs.values():
        declared.update((spec.get('options') or {}).keys())
    for name, where in sorted(used_public_variables(role_dir, prefix).items()):
        if name not in declared:
            problems.append('%s: %s is used (%s) but is not an option in the specs: declare it, or make it private'
                            ' (__%s)' % (here, name, where, name))
    problems.extend(readme.check_or_write(role_dir, check=True))
    return problems


def main(argv):
    readme = load_readme_module()
    role_dirs = [os.path.abspath(arg) for arg in argv] or sorted(
        path for path in glob.glob(os.path.join(ROOT, 'roles', '*')) if os.path.isdir(path))
    if not role_dirs:
        print('check-role-specs: no roles found under roles/', file=sys.stderr)
        return 1
    problems = []
    for role_dir in role_dirs:
        problems.extend(check_role(role_dir, readme))
    for problem in problems:
        print('check-role-specs: ' + problem, file=sys.stderr)
    if problems:
        print('check-role-specs: %d problem(s) in %d role(s)' % (len(problems), len(role_dirs)), file=sys.stderr)
        return 1
    print('check-role-specs: %d role(s): defaults, argument specs and README tables agree' % len(role_dirs))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
