#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""grcc compiles every flowgraph in flowgraphs/ (into a temporary directory)."""

import glob
import os
import subprocess
import tempfile

from gnuradio import gr_unittest

ROOT = os.environ.get("LGVSC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GRC_DIR = os.environ.get("LGVSC_GRC_DIR", os.path.join(ROOT, "gr-lgvsc", "grc"))


class qa_flowgraphs(gr_unittest.TestCase):

    def test_grcc_compiles_every_flowgraph(self):
        files = sorted(glob.glob(os.path.join(ROOT, "flowgraphs", "*.grc")))
        self.assertTrue(files, "no flowgraphs found")
        env = dict(os.environ)
        env.pop("GR_DONT_LOAD_PREFS", None)  # grcc needs the system block paths
        env["GRC_BLOCKS_PATH"] = GRC_DIR       # this tree's YAML, not an installed copy
        with tempfile.TemporaryDirectory() as out:
            for path in files:
                with self.subTest(flowgraph=os.path.basename(path)):
                    proc = subprocess.run(["grcc", "-o", out, path], env=env, capture_output=True, text=True, check=False,
                                          timeout=120)
                    self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                    self.assertNotIn("Error", proc.stdout + proc.stderr)
                    py = os.path.join(out, os.path.basename(path)[:-4] + ".py")
                    self.assertTrue(os.path.getsize(py) > 0)
                    with open(py, encoding="utf-8") as f:
                        src = f.read()
                    # The PHY's FEC mode (and, over the air, its modulation) is a command-line option
                    # of the generated script and reaches the PHY blocks.
                    for opt, key in CLI_OPTIONS.get(os.path.basename(path)[:-4], ()):
                        self.assertTrue(f'"{opt}", dest="{key}"' in src, f"no {opt} option in the generated script")
                        self.assertTrue(f"{key}={key}" in src, f"{opt} does not reach the PHY block")


SIM = ("loopback_sim", "loopback_sionna", "phy_swap", "tx_zmq", "rx_zmq", "semantic_loopback",
       "semantic_loopback_stock_zmq", "semantic_tx_zmq", "semantic_rx_zmq")
OTA = tuple(f"{side}_{dev}{gui}" for side in ("tx", "rx") for dev in ("usrp", "hackrf") for gui in ("", "_gui"))
SIM_MCS = ("loopback_sim", "loopback_sionna", "tx_zmq", "semantic_loopback", "semantic_loopback_stock_zmq",
           "semantic_tx_zmq")  # their OFDM TX takes --mcs
CLI_OPTIONS = {**{name: (("--fec-mode", "fec_mode"),) + ((("--mcs", "mcs"),) if name in SIM_MCS else ())
                  for name in SIM},
               **{name: (("--fec-mode", "fec_mode"), ("--payload-mod", "payload_mod"))
                  + ((("--mcs", "mcs"),) if name.startswith("tx_") else ()) for name in OTA}}


if __name__ == "__main__":
    gr_unittest.run(qa_flowgraphs)
