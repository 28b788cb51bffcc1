#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks that the register contract says the same in its three places: the spec
(docs/pci-ice-mp-spec.md), the QEMU header and the Linux header of the work trees.

Every register of the spec's PF and VF tables must be defined in both headers as
ICE_MP_REG_<NAME> / ICE_MP_VF_REG_<NAME> with the spec's offset (and stride, for
per-port or per-VF registers), and every ICE_MP_* macro the two headers share
must have the same value. The PCI IDs of the spec's identity table must be the
ones both headers define (each tree names them in that one header only).
Exits 1 and lists each disagreement."""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "host"))
from paths import LINUX_TREE as LINUX, QEMU_TREE as QEMU, TOP  # noqa: E402  pylint: disable=wrong-import-position
SPEC = os.path.join(TOP, "docs", "pci-ice-mp-spec.md")

QEMU_HEADERS = ["include/hw/net/pci-ice-mp-regs.h", "include/hw/net/pci_ice_mp_regs.h",
                "hw/net/pci-ice-mp-regs.h", "hw/net/pci_ice_mp_regs.h"]
LINUX_HEADER = "drivers/net/ethernet/intel/ice/ice_mp_regs.h"


def spec_registers():
    """{macro: (offset, stride)} from the spec's register tables."""
    regs = {}
    section = None
    row = re.compile(r"^\|\s*(0x[0-9a-f]+)(?:\s*\+\s*(\d*)\s*(n|vf))?\s*\|\s*([A-Z0-9_]+)(?:\[(?:n|vf)\])?\s*\|")
    with open(SPEC, encoding="utf-8") as spec:
        for line in spec:
            if line.startswith("## PF BAR0"):
                section = "ICE_MP_REG_"
            elif line.startswith("## VF BAR0"):
                section = "ICE_MP_VF_REG_"
            elif line.startswith("## "):
                section = None
            match = row.match(line)
            if section and match:
                offset = int(match.group(1), 16)
                stride = int(match.group(2) or 1) if match.group(3) else 0
                name = match.group(4)
                regs[section + name] = (offset, stride)
    return regs


# The spec's identity rows and the macros of each header that must hold them.
ID_MACROS = {
    "PF": {"QEMU": ("ICE_MP_PCI_VENDOR_ID", "ICE_MP_PCI_DEVICE_ID"),
           "Linux": ("ICE_MP_PCI_VENDOR_ID", "ICE_MP_PCI_DEVICE_ID")},
    "VF": {"QEMU": ("ICE_MP_PCI_VENDOR_ID", "ICE_MP_VF_PCI_DEVICE_ID"),
           "Linux": ("ICE_MP_PCI_VENDOR_ID", "ICE_MP_PCI_DEVICE_ID_VF")},
}


def spec_ids():
    """{"PF": (vendor, device), "VF": ...} from the spec's identity table."""
    ids = {}
    row = re.compile(r"^\|\s*(PF|VF)\s*\|\s*([0-9a-f]{4}):([0-9a-f]{4})\b")
    with open(SPEC, encoding="utf-8") as spec:
        for line in spec:
            match = row.match(line)
            if match:
                ids[match.group(1)] = (int(match.group(2), 16), int(match.group(3), 16))
    return ids


DEFINE = re.compile(r"^#define\s+(ICE_MP_\w+)(\(\s*(\w+)\s*\))?\s+(.+?)\s*(?:/\*.*)?$")


def c_eval(expr, arg_name=None, arg=0):
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
    expr = re.sub(r"\bBIT(?:_ULL)?\(", "_bit(", expr)
    expr = re.sub(r"\bGENMASK(?:_ULL)?\(", "_genmask(", expr)
    expr = re.sub(r"\(\s*(?:u?int\d+_t|u\d+|unsigned(?: int| long)?|int)\s*\)", "", expr)
    if arg_name:
        expr = re.sub(rf"\b{arg_name}\b", str(arg), expr)
    return eval(expr, {"__builtins__": {}},  # pylint: disable=eval-used
                {"_bit": lambda n: 1 << n, "_genmask": lambda h, l: ((1 << (h - l + 1)) - 1) << l})


def header_macros(path):
    """{macro: (value at 0, stride or 0)} of the ICE_MP_* macros that evaluate to numbers."""
    macros, raw = {}, {}
    with open(path, encoding="utf-8") as header:
        text = re.sub(r"\\\n", " ", header.read())
    for line in text.splitlines():
        match = DEFINE.match(line.strip())
        if match:
            raw[match.group(1)] = (match.group(3), match.group(4))
    for name, (arg_name, body) in raw.items():
        # Expand other ICE_MP_ macros used in the body (one level is enough here).
        for other, (other_arg, other_body) in raw.items():
            if other != name and not other_arg:
                body = re.sub(rf"\b{other}\b", f"({other_body})", body)
        try:
            if arg_name:
                at0, at1 = c_eval(body, arg_name, 0), c_eval(body, arg_name, 1)
                macros[name] = (at0, at1 - at0)
            else:
                macros[name] = (c_eval(body), 0)
        except Exception:  # pylint: disable=broad-except
            pass  # not a plain number (a type, a string): not part of the contract
    return macros


def main():
    problems = []
    qemu_header = next((os.path.join(QEMU, h) for h in QEMU_HEADERS if os.path.exists(os.path.join(QEMU, h))), None)
    linux_header = os.path.join(LINUX, LINUX_HEADER)
    if not qemu_header:
        problems.append(f"no QEMU register header in {QEMU} (looked for {', '.join(QEMU_HEADERS)})")
    if not os.path.exists(linux_header):
        problems.append(f"no Linux register header {linux_header}")
    if problems:
        print("\n".join(problems))
        return 1
    spec = spec_registers()
    headers = {"QEMU": header_macros(qemu_header), "Linux": header_macros(linux_header)}
    for name, (offset, stride) in sorted(spec.items()):
        for side, macros in headers.items():
            if name not in macros:
                problems.append(f"{side}: {name} (spec offset {offset:#x}) is not defined")
            elif macros[name] != (offset, stride):
                problems.append(f"{side}: {name} is {macros[name][0]:#x} stride {macros[name][1]}, "
                                f"spec says {offset:#x} stride {stride}")
    for side, macros in headers.items():
        for name in sorted(macros):
            if re.match(r"ICE_MP_(VF_)?REG_", name) and name not in spec:
                problems.append(f"{side}: register {name} is not in the spec")
    ids = spec_ids()
    for function, sides in ID_MACROS.items():
        if function not in ids:
            problems.append(f"the spec's identity table has no {function} row")
            continue
        for side, names in sides.items():
            for name, want in zip(names, ids[function]):
                have = headers[side].get(name, (None,))[0]
                if have != want:
                    problems.append(f"{side}: {function} {name} is "
                                    f"{'undefined' if have is None else f'{have:#06x}'}, spec says {want:#06x}")
    shared = sorted(set(headers["QEMU"]) & set(headers["Linux"]))
    for name in shared:
        if headers["QEMU"][name] != headers["Linux"][name]:
            problems.append(f"{name}: QEMU {headers['QEMU'][name]} != Linux {headers['Linux'][name]}")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"PF {ids['PF'][0]:04x}:{ids['PF'][1]:04x} and VF {ids['VF'][0]:04x}:{ids['VF'][1]:04x} in both headers; "
          f"{len(spec)} registers of the spec defined alike in both headers; "
          f"{len(shared)} shared macros agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
