#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every GRC YAML file of this module agrees with its Python class: id =
lgvsc_<class>, every parameter is a constructor argument, the make template
passes only known arguments, callbacks call real methods, category [LGVSC]."""

import glob
import inspect
import os
import re

import yaml
from gnuradio import gr_unittest, lgvsc

GRC_DIR = os.environ.get("LGVSC_GRC_DIR",
                         os.path.join(os.path.dirname(__file__), "..", "..", "grc"))


class qa_grc_yaml(gr_unittest.TestCase):

    def test_yaml_matches_python(self):
        files = sorted(glob.glob(os.path.join(GRC_DIR, "lgvsc_*.block.yml")))
        self.assertTrue(files, f"no YAML found in {GRC_DIR}")
        for path in files:
            with self.subTest(yaml=os.path.basename(path)):
                with open(path) as f:
                    doc = yaml.safe_load(f)
                self.assertEqual(os.path.basename(path), doc["id"] + ".block.yml")
                name = doc["id"][len("lgvsc_"):]
                cls = getattr(lgvsc, name)
                self.assertTrue(str(doc["category"]).startswith("[LGVSC]"), doc["category"])
                self.assertTrue(doc.get("documentation", "").strip(), "documentation missing")
                sig = inspect.signature(cls.__init__)
                ctor = [p for p in sig.parameters if p != "self"]
                ids = [p["id"] for p in doc.get("parameters", [])]
                make = doc["templates"]["make"]
                self.assertIn(f"lgvsc.{name}(", make)
                kwargs = re.findall(r"(\w+)\s*=\s*\$\{", make)
                for k in kwargs:
                    self.assertIn(k, ctor, f"make passes {k}= which {name}.__init__ lacks")
                for pid in ids:
                    self.assertIn(pid, ctor, f"parameter {pid} is not a constructor argument")
                    self.assertIn(pid, kwargs, f"parameter {pid} not passed in make")
                for p, v in sig.parameters.items():  # required ctor args must be exposed
                    if p != "self" and v.default is inspect.Parameter.empty:
                        self.assertIn(p, ids)
                for cb in doc["templates"].get("callbacks", []) or []:
                    meth = re.match(r"\s*(\w+)\s*\(", cb).group(1)
                    self.assertTrue(callable(getattr(cls, meth, None)), f"callback {meth} is not a method")


if __name__ == "__main__":
    gr_unittest.run(qa_grc_yaml)
