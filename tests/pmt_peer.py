# SPDX-License-Identifier: GPL-3.0-or-later
"""Helper run by GNU Radio's interpreter (/usr/bin/python3) for tests/test_pmt_wire.py.

Reads one JSON request on stdin and writes one JSON answer on stdout:
- {"mode": "reserialize", "hex": [...]}: pmt.deserialize_str each, answer the re-serialised hex
  and a structural description (so the venv side can check the meaning, not just the bytes);
- {"mode": "generate", "seed": S, "n": N}: build N random PMTs with the pmt API (dict_add,
  cons, from_long, from_uint64, ...), answer their serialize_str hex and descriptions.
"""

import json
import random
import sys

import pmt

UV = [("u8", pmt.is_u8vector, pmt.init_u8vector), ("s8", pmt.is_s8vector, pmt.init_s8vector),
      ("u16", pmt.is_u16vector, pmt.init_u16vector), ("s16", pmt.is_s16vector, pmt.init_s16vector),
      ("u32", pmt.is_u32vector, pmt.init_u32vector), ("s32", pmt.is_s32vector, pmt.init_s32vector),
      ("u64", pmt.is_u64vector, pmt.init_u64vector), ("s64", pmt.is_s64vector, pmt.init_s64vector),
      ("f32", pmt.is_f32vector, pmt.init_f32vector), ("f64", pmt.is_f64vector, pmt.init_f64vector),
      ("c32", pmt.is_c32vector, pmt.init_c32vector), ("c64", pmt.is_c64vector, pmt.init_c64vector)]


def describe(p):
    if pmt.is_null(p):
        return ["nil"]
    if pmt.is_bool(p):
        return ["bool", pmt.to_bool(p)]
    if pmt.is_symbol(p):
        return ["sym", pmt.serialize_str(p)[3:].hex()]
    if pmt.is_uint64(p):
        return ["u64", pmt.to_uint64(p)]
    if pmt.is_integer(p):
        return ["long", pmt.to_long(p)]
    if pmt.is_complex(p):
        c = pmt.to_complex(p)
        return ["complex", c.real, c.imag]
    if pmt.is_real(p):
        return ["double", pmt.to_double(p)]
    for kind, is_kind, _init in UV:
        if is_kind(p):
            items = list(getattr(pmt, f"{kind}vector_elements")(p))
            if kind == "u8":
                return ["u8", bytes(bytearray(items)).hex()]
            if kind.startswith("c"):
                return ["uv", kind, [[complex(x).real, complex(x).imag] for x in items]]
            return ["uv", kind, [x.item() if hasattr(x, "item") else x for x in items]]
    if pmt.is_dict(p):
        items, d = [], p
        while not pmt.is_null(d):
            kv = pmt.car(d)
            items.append([describe(pmt.car(kv)), describe(pmt.cdr(kv))])
            d = pmt.cdr(d)
        return ["dict", items]
    if pmt.is_pair(p):
        return ["pair", describe(pmt.car(p)), describe(pmt.cdr(p))]
    if pmt.is_vector(p):
        return ["vector", [describe(pmt.vector_ref(p, i)) for i in range(pmt.length(p))]]
    if pmt.is_tuple(p):
        return ["tuple", [describe(pmt.tuple_ref(p, i)) for i in range(pmt.length(p))]]
    raise TypeError(f"no description for {p}")


def random_pmt(rng, depth=0):
    kinds = ["nil", "bool", "sym", "long", "u64", "double", "complex", "u8", "uv"]
    if depth < 3:
        kinds += ["dict", "pair", "vector", "tuple", "dict", "pair"]
    k = rng.choice(kinds)
    if k == "nil":
        return pmt.PMT_NIL
    if k == "bool":
        return pmt.from_bool(rng.random() < 0.5)
    if k == "sym":
        return pmt.intern("".join(rng.choice("abcxyz_0123é") for _ in range(rng.randint(0, 12))))
    if k == "long":
        return pmt.from_long(rng.choice([0, 1, -1, 2**31 - 1, -2**31, 2**31, -2**31 - 1, 2**63 - 1, -2**63,
                                         rng.randint(-2**63, 2**63 - 1), rng.randint(-1000, 1000)]))
    if k == "u64":
        return pmt.from_uint64(rng.choice([0, 2**64 - 1, rng.randint(0, 2**64 - 1)]))
    if k == "double":
        return pmt.from_double(rng.choice([0.0, -0.0, 1.5, 1e308, -1e-300, float("inf"), rng.uniform(-1e6, 1e6)]))
    if k == "complex":
        return pmt.from_complex(complex(rng.uniform(-10, 10), rng.uniform(-10, 10)))
    if k == "u8":
        n = rng.choice([0, 1, 7, 100, 1500])
        return pmt.init_u8vector(n, [rng.randint(0, 255) for _ in range(n)])
    if k == "uv":
        kind, _is, init = rng.choice(UV[1:])
        n = rng.randint(0, 5)
        if kind.startswith("c"):
            vals = [complex(rng.randint(-8, 8) / 4, rng.randint(-8, 8) / 4) for _ in range(n)]
        elif kind.startswith("f"):
            vals = [rng.randint(-100, 100) / 8 for _ in range(n)]
        else:
            lo = 0 if kind.startswith("u") else -(2 ** (int(kind[1:]) - 1))
            hi = 2 ** int(kind[1:]) - 1 if kind.startswith("u") else 2 ** (int(kind[1:]) - 1) - 1
            vals = [rng.randint(lo, hi) for _ in range(n)]
        return init(n, vals)
    if k == "dict":
        d = pmt.make_dict()
        for i in range(rng.randint(0, 5)):
            key = pmt.intern(f"key{i}") if rng.random() < 0.8 else pmt.from_long(i)
            d = pmt.dict_add(d, key, random_pmt(rng, depth + 1))
        return d
    if k == "pair":
        return pmt.cons(random_pmt(rng, depth + 1), random_pmt(rng, depth + 1))
    items = [random_pmt(rng, depth + 1) for _ in range(rng.randint(0 if k == "vector" else 1, 4))]
    if k == "vector":
        v = pmt.make_vector(len(items), pmt.PMT_NIL)
        for i, x in enumerate(items):
            pmt.vector_set(v, i, x)
        return v
    v = pmt.make_vector(len(items), pmt.PMT_NIL)
    for i, x in enumerate(items):
        pmt.vector_set(v, i, x)
    return pmt.to_tuple(v)


def main():
    req = json.load(sys.stdin)
    out = []
    if req["mode"] == "reserialize":
        for h in req["hex"]:
            p = pmt.deserialize_str(bytes.fromhex(h))
            out.append({"hex": pmt.serialize_str(p).hex(), "desc": describe(p)})
    else:
        rng = random.Random(req["seed"])
        for _ in range(req["n"]):
            p = random_pmt(rng)
            out.append({"hex": pmt.serialize_str(p).hex(), "desc": describe(p)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
