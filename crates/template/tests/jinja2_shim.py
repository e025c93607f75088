"""Renders templates with Python's Jinja2 configured as Ansible configures it, for the
differential test in cases.rs. Reads a JSON list of {"template", "vars"} on stdin and prints a
JSON list of {"output": str} or {"skip": reason}.

Only a few Ansible filters are provided here, written from their documented behaviour; cases
needing anything else are skipped rather than compared.
"""

import json
import re
import sys

import jinja2
from jinja2.nativetypes import NativeEnvironment  # noqa: F401  (presence check only)


def to_bool(v):
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    return str(v).strip().lower() in ("yes", "on", "1", "true", "t", "y", "1.0")


def regex_replace(value, pattern="", replacement="", ignorecase=False, multiline=False, count=0):
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.sub(pattern, replacement, str(value), count=count, flags=flags)


def finalize(v):
    return "" if v is None else v


env = jinja2.Environment(
    trim_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
    finalize=finalize,
    extensions=["jinja2.ext.loopcontrols"],
)
env.filters["bool"] = to_bool
env.filters["regex_replace"] = regex_replace
env.filters["to_json"] = lambda v, **kw: json.dumps(v, **kw)
env.filters["to_nice_json"] = lambda v, indent=4, sort_keys=True: json.dumps(
    v, indent=indent, sort_keys=sort_keys, separators=(",", ": ")
)

try:
    import yaml

    env.filters["to_yaml"] = lambda v, **kw: yaml.dump(
        v, allow_unicode=True, default_flow_style=kw.pop("default_flow_style", None), **kw
    )
    env.filters["to_nice_yaml"] = lambda v, indent=4, **kw: yaml.dump(
        v, indent=indent, allow_unicode=True, default_flow_style=False, **kw
    )
except ImportError:  # PyYAML missing: YAML cases are skipped, not compared
    pass

out = []
for case in json.load(sys.stdin):
    try:
        tmpl = env.from_string(case["template"])
        text = tmpl.render(**case["vars"])
        out.append({"output": text})
    except jinja2.TemplateSyntaxError as e:
        out.append({"skip": "syntax: %s" % e})
    except jinja2.TemplateAssertionError as e:
        out.append({"skip": str(e)})
    except Exception as e:  # noqa: BLE001 - any Jinja2 failure just means "not comparable"
        out.append({"skip": "%s: %s" % (type(e).__name__, e)})
json.dump(out, sys.stdout)
