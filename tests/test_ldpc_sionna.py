# SPDX-License-Identifier: GPL-3.0-or-later
"""The radio side's 5G NR LDPC (gr-lgvsc/lib/ldpc_5g.cc) against Sionna's LDPC5GEncoder.

Our encoder's rate-matched codeword must equal ``sionna.phy.fec.ldpc.LDPC5GEncoder(k, n)``'s
(redundancy version 0, no output interleaver: Sionna's default) bit for bit, for both base
graphs, filler bits (k < kb Z) and every lifting-set index; and our layered min-sum decoder
must recover the information bits of Sionna-encoded codewords sent over BPSK/AWGN.
GNU Radio's interpreter runs the C++ codec (through its pybind11 module); this venv runs Sionna.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from conftest import GR_PYTHON

sionna_ldpc = pytest.importorskip("sionna.phy.fec.ldpc")
torch = pytest.importorskip("torch")

# (k, n): BG1 at the OFDM presets' segment size (Z 224, i_LS 3) and rates 1/3 .. 3/4, BG1 at
# Z 384 (largest), BG2 with kb 10 / 9 / 8 / 6 (filler bits) and odd lifting sets.
CASES = [(4816, 14448), (4816, 9632), (4816, 7224), (4816, 6422), (8448, 12672), (3000, 3750),
         (1000, 2000), (600, 1200), (500, 1500), (100, 300), (37, 111), (1500, 4500), (2080, 3120)]

PEER = r"""
import json, sys
import numpy as np
from gnuradio.lgvsc import phy_common
m = phy_common.compiled()
req = json.load(sys.stdin)
codec = m.ldpc_5g()
out = {"enc": [], "dec": [], "bg": []}
for case in req["cases"]:
    k, n = case["k"], case["n"]
    out["bg"].append(m.ldpc_5g.select_bg(k, k / n))
    out["enc"].append(list(codec.encode(case["info"], n, 0)))
    out["dec"].append([list(codec.decode(llr, k, 0)) for llr in case["llr"]])
json.dump(out, sys.stdout)
"""


def _sionna_encode(k, n, info):
    enc = sionna_ldpc.LDPC5GEncoder(k, n)
    c = enc(torch.tensor(info, dtype=torch.float32))
    return np.asarray(c.detach().cpu().numpy(), dtype=np.uint8), enc


def test_encoder_matches_sionna_and_decoder_decodes(gr_env):
    rng = np.random.default_rng(11)
    req, ref = {"cases": []}, []
    for k, n in CASES:
        info = rng.integers(0, 2, size=(3, k))
        cw, enc = _sionna_encode(k, n, info)
        # BPSK over AWGN at Es/N0 = 1 dB above the rate's BPSK capacity limit, LLR positive = 1
        r = k / n
        esn0 = 10 ** ((10 * np.log10(2 ** (2 * r) - 1) + 1.5) / 10)
        sigma = np.sqrt(1 / (2 * esn0))
        y = (2.0 * cw[1:] - 1) + sigma * rng.standard_normal(cw[1:].shape)
        llr = 2 * y / sigma**2
        req["cases"].append({"k": k, "n": n, "info": info[0].tolist(), "llr": llr.tolist()})
        ref.append((info, cw, enc.z, 1 if enc.n_ldpc // enc.z == 68 else 2))
    proc = subprocess.run([GR_PYTHON, "-c", PEER], input=json.dumps(req), capture_output=True, text=True,
                          env=gr_env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    for i, (k, n) in enumerate(CASES):
        info, cw, z, bg = ref[i]
        assert got["bg"][i] == bg, f"k={k} n={n}: base graph {got['bg'][i]} != Sionna's {bg}"
        ours = np.asarray(got["enc"][i], dtype=np.uint8)
        assert ours.shape == (n,)
        assert np.array_equal(ours, cw[0]), f"k={k} n={n} (Z {z}): {int((ours != cw[0]).sum())} bits differ"
        for j, dec in enumerate(got["dec"][i]):
            assert np.array_equal(np.asarray(dec, dtype=np.uint8), info[1 + j]), f"k={k} n={n}: decode failed"
