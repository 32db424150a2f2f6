"""``python -m llama_cpp.server`` on the workbench's exact llama.cpp kernels (WORKBENCH_KERNELS=exact).

The server tests compare a server's numbers with the in-process model's, which loads with weight repacking
off, the tiled K-quant kernel off and flash attention on (workbench.backends.llamacpp). llama-cpp-python's
server has no option for the first two, so this launcher runs the server's own ``__main__`` (with the
arguments it was given; add ``--flash_attn true``) inside the workbench's own loading context.
"""

from __future__ import annotations

import runpy

if __name__ == "__main__":
    from workbench.backends.llamacpp import kernels_for_loading

    with kernels_for_loading("exact"):  # the server loads its model inside: until it exits
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
