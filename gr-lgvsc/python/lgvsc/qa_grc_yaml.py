#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every GRC YAML file of this module agrees with its Python class: id =
lgvsc_<class>, every parameter is a constructor argument, the make template
passes only known arguments, callbacks call real methods, category [LGVSC]."""

import glob
import inspect
import os
import re
import subprocess
import sys
import tempfile

import yaml
from gnuradio import gr, gr_unittest, lgvsc

GRC_DIR = os.environ.get("LGVSC_GRC_DIR",
                         os.path.join(os.path.dirname(__file__), "..", "..", "grc"))

# PHY blocks and their choice parameters (a dropdown that must also accept a
# variable: GRC's dtype enum silently replaces a typed variable by the default).
PHY_CHOICES = {
    "lgvsc_ofdm_pdu_tx": ("fec_mode", "payload_mod", "header_mod", "carrier_preset", "mcs"),
    "lgvsc_ofdm_pdu_rx": ("fec_mode", "payload_mod", "header_mod", "carrier_preset", "mcs"),
    "lgvsc_psk_pdu_tx": ("fec_mode", "payload_mod", "mcs"),
    "lgvsc_psk_pdu_rx": ("fec_mode", "payload_mod", "mcs"),
}

_FLOWGRAPH = """options:
  parameters: {{author: qa, catch_exceptions: 'True', category: '[GRC Hier Blocks]', cmake_opt: '', comment: '',
    copyright: '', description: '', gen_cmake: 'Off', gen_linking: dynamic, generate_options: no_gui,
    hier_block_src_path: '.:', id: qa_vars, max_nouts: '0', output_language: python, placement: '(0,0)',
    qt_qss_theme: '', realtime_scheduling: '', run: 'True', run_command: '{{python}} -u {{filename}}',
    run_options: run, sizing_mode: fixed, thread_safe_setters: '', title: qa, window_size: '(1000,1000)'}}
  states: {{coordinate: [8, 8], rotation: 0, state: enabled}}
blocks:
- name: fec_var
  id: variable
  parameters: {{comment: '', value: '"cc"'}}
  states: {{coordinate: [200, 8], rotation: 0, state: enabled}}
- name: mod_arg
  id: parameter
  parameters: {{alias: '', comment: '', hide: none, label: '', short_id: '', type: str, value: {mod}}}
  states: {{coordinate: [300, 8], rotation: 0, state: enabled}}
- name: strobe
  id: blocks_message_strobe
  parameters: {{msg: pmt.PMT_T, period: '1000', alias: '', comment: '', affinity: '', maxoutbuf: '0', minoutbuf: '0'}}
  states: {{coordinate: [8, 100], rotation: 0, state: enabled}}
- name: phy_tx
  id: lgvsc_{phy}_pdu_tx
  parameters: {{mtu: '{mtu}', fec_mode: fec_var, payload_mod: mod_arg, comment: '', affinity: '', alias: '',
    maxoutbuf: '0', minoutbuf: '0'}}
  states: {{coordinate: [200, 100], rotation: 0, state: enabled}}
- name: phy_rx
  id: lgvsc_{phy}_pdu_rx
  parameters: {{mtu: '{mtu}', fec_mode: fec_var, payload_mod: mod_arg, comment: '', affinity: '', alias: '',
    maxoutbuf: '0', minoutbuf: '0'}}
  states: {{coordinate: [400, 100], rotation: 0, state: enabled}}
- name: debug
  id: blocks_message_debug
  parameters: {{en_uvec: 'True', alias: '', comment: '', affinity: ''}}
  states: {{coordinate: [600, 100], rotation: 0, state: enabled}}
connections:
- [strobe, strobe, phy_tx, in]
- [phy_tx, '0', phy_rx, '0']
- [phy_rx, out, debug, print]
metadata: {{file_format: 1, grc_version: 3.10.5.1}}
"""


# grcc (gnuradio.grc.compiler) whose prefs report no global_blocks_path.
_GRCC = """
import sys
from gnuradio import gr
from gnuradio.grc import compiler
prefs = gr.prefs()
class Prefs:
    def get_string(self, section, key, default):
        if (section, key) == ("grc", "global_blocks_path"):
            return ""
        return prefs.get_string(section, key, default)
    def __getattr__(self, name):
        return getattr(prefs, name)
gr.prefs = Prefs
compiler.main(compiler.argument_parser().parse_args(sys.argv[1:]))
"""


def grcc(text, out):
    """Compile flowgraph ``text`` with this tree's YAML; return (rc, log, generated Python)."""
    path = os.path.join(out, "fg.grc")
    with open(path, "w") as f:
        f.write(text)
    # grcc with the system block paths minus an installed copy of these blocks
    # (/usr/local, loaded last, would override this tree's YAML), then this tree's.
    system = [d for d in gr.prefs().get_string("grc", "global_blocks_path", "").split(os.pathsep)
              if d and not glob.glob(os.path.join(d, "lgvsc_*.block.yml"))]
    env = dict(os.environ, GRC_BLOCKS_PATH=os.pathsep.join(system + [GRC_DIR]))
    env.pop("GR_DONT_LOAD_PREFS", None)
    proc = subprocess.run([sys.executable, "-c", _GRCC, "-o", out, path], env=env, capture_output=True,
                          text=True, check=False, timeout=120)
    py = glob.glob(os.path.join(out, "*.py"))
    code = ""
    if py:
        with open(py[0]) as f:
            code = f.read()
    for p in py:
        os.remove(p)
    return proc.returncode, proc.stdout + proc.stderr, code


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

    def test_psk_mcs_options_are_the_psk_subset(self):
        # The PSK PHY's MCS dropdown lists exactly the MCSs it carries (psk_pdu_tx.PSK_MCS_NAMES,
        # the OFDM table's names with a BPSK/QPSK modulation) plus "" (from FEC).
        from gnuradio.lgvsc.psk_pdu_tx import PSK_MCS_NAMES
        for block in ("lgvsc_psk_pdu_tx", "lgvsc_psk_pdu_rx"):
            with open(os.path.join(GRC_DIR, block + ".block.yml")) as f:
                params = {p["id"]: p for p in yaml.safe_load(f)["parameters"]}
            opts = [yaml.safe_load(o) for o in params["mcs"]["options"]]
            self.assertEqual(opts, ["", *PSK_MCS_NAMES], block)

    def test_phy_choices_accept_variables(self):
        # Dropdown parameters are dtype string with options (an editable combo
        # box in GRC), so a variable or a command-line parameter typed there
        # reaches the generated Python; the YAML asserts see its value.
        for block, choices in PHY_CHOICES.items():
            with open(os.path.join(GRC_DIR, block + ".block.yml")) as f:
                params = {p["id"]: p for p in yaml.safe_load(f)["parameters"]}
            for pid in choices:
                self.assertEqual(params[pid]["dtype"], "string", f"{block}.{pid}")
                self.assertTrue(params[pid].get("options"), f"{block}.{pid} lost its dropdown")
                self.assertIn(params[pid]["default"], params[pid]["options"])
        with tempfile.TemporaryDirectory() as out:
            for phy, mod in (("ofdm", "qpsk"), ("psk", "bpsk")):
                with self.subTest(phy=phy):
                    rc, log, code = grcc(_FLOWGRAPH.format(phy=phy, mod=mod, mtu=1000), out)
                    self.assertEqual(rc, 0, log)
                    self.assertEqual(len(re.findall(r"fec_mode=self\.fec_var\b|fec_mode=fec_var\b", code)), 2, code)
                    self.assertEqual(len(re.findall(r"payload_mod=(self\.)?mod_arg\b", code)), 2, code)
                    self.assertIn("--mod-arg", code)  # a command-line option
                    self.assertIn(f"default='{mod}'", code)
                    if phy == "ofdm":
                        # mtu + CRC above 4095 bytes per burst: the YAML asserts must refuse it.
                        rc, log, _ = grcc(_FLOWGRAPH.format(phy=phy, mod=mod, mtu=4100), out)
                        self.assertNotEqual(rc, 0, "mtu 4100 compiled")
                        self.assertIn("Assertion", log)

if __name__ == "__main__":
    gr_unittest.run(qa_grc_yaml)
