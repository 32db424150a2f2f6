"""``python -m llama_cpp.server`` on the workbench's exact llama.cpp kernels (WORKBENCH_KERNELS=exact).

The server tests compare a server's numbers with the in-process model's, which loads with weight repacking
off, the tiled K-quant kernel off and flash attention on (workbench.backends.llamacpp). llama-cpp-python's
server has no option for the first two, so this launcher sets them the way ``load_llamacpp`` does and then
runs the server's own ``__main__`` with the arguments it was given (add ``--flash_attn true``).
"""

from __future__ import annotations

import os
import runpy

if __name__ == "__main__":
    os.environ["GGML_CPU_TILED_MM"] = "0"  # read by ggml at its first matrix product
    import llama_cpp.llama_cpp as low

    default = low.llama_model_default_params

    def params():
        p = default()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
