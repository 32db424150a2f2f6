"""The decoding settings every generating page offers: a preset, or every setting (Hugging Face
``GenerationConfig`` names) as number fields that say under themselves why a value is invalid, stop strings and
the sampler order; the result is one validated :class:`~workbench.decoding.DecodingConfig`.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.fields import keep_widgets, number_field, unless_set
from workbench.backends.openai.sampling import penalty_note
from workbench.decoding import MAX_SEED as DECODING_MAX_SEED
from workbench.decoding import PRESETS, DecodingConfig
from workbench.errors import WorkbenchError
from workbench.escapes import split_escaped

#: The sampler orders a page offers: label -> DecodingConfig.sampler_order value.
ORDER_CHOICES = {"the backend's own": "", "llama.cpp": "llama.cpp", "transformers": "transformers"}
#: The number fields of decoding_controls: key suffix -> (label, DecodingConfig field, step, whole number).
DECODING_FIELDS = {
    "temp": ("temperature", "temperature", 0.05, False),
    "topk": ("top_k (0 = off)", "top_k", 1, True),
    "topp": ("top_p", "top_p", 0.01, False),
    "minp": ("min_p", "min_p", 0.01, False),
    "typ": ("typical_p", "typical_p", 0.01, False),
    "rep": ("repetition_penalty", "repetition_penalty", 0.05, False),
    "max": ("max_new_tokens", "max_new_tokens", 1, True),
    "seed": ("seed", "seed", 1, True),
}
#: Help shown with a number field (key suffix -> text): what the repetition penalty reads on each backend.
FIELD_HELP = {"rep": penalty_note()}
#: Every widget key suffix decoding_controls uses (a page keeps these across page switches).
DECODING_KEYS = ("preset", "sample", *DECODING_FIELDS, "stop", "order")
#: Largest seed the pages accept: the engines' (workbench.decoding, the one home; sample i uses seed + i).
MAX_SEED = DECODING_MAX_SEED


def _field_check(field: str, whole: bool) -> Callable[[float], None]:
    def check(value: float) -> None:
        DecodingConfig(**{field: int(value) if whole else float(value)})

    return check


def decoding_controls(key: str = "dec", default_preset: str = "Greedy", columns: int = 2) -> DecodingConfig | None:
    """Preset picker plus every setting; returns a validated config, or None while a field is invalid.

    Each invalid field says why right under it (a page disables its Generate/Run button on None). ``columns``:
    how many columns the settings take inside their expander (1 in a narrow column, so no label breaks).
    """
    keep_widgets(f"{key}_{k}" for k in DECODING_KEYS)  # the settings survive a visit to another page
    ss = st.session_state
    names = [*PRESETS, "Custom"]
    name = st.selectbox("Decoding preset", names, key=f"{key}_preset",
                        **unless_set(f"{key}_preset", index=names.index(default_preset)))
    base = PRESETS.get(name, PRESETS["Greedy"])
    custom = name == "Custom"
    problems: list[str] = []
    with st.expander("Decoding settings", expanded=custom):
        if not custom:  # a preset's own values, shown in its disabled fields
            ss[f"{key}_sample"] = base.do_sample
        do_sample = st.toggle("Sample (off = greedy)", key=f"{key}_sample", disabled=not custom,
                              **unless_set(f"{key}_sample", value=base.do_sample))
        cols = st.columns(columns) if columns > 1 else [st.container()]
        values: dict[str, float] = {}
        defaults = {**{f[1]: getattr(base, f[1]) for f in DECODING_FIELDS.values()}, "max_new_tokens": 64,
                    "seed": 0}
        for i, (suffix, (label, field, step, whole)) in enumerate(DECODING_FIELDS.items()):
            fixed = field not in ("max_new_tokens", "seed") and not custom  # a preset's own value
            value = int(defaults[field]) if whole else float(defaults[field])
            if fixed:
                ss[f"{key}_{suffix}"] = value
            got, problem = number_field(cols[(i * len(cols)) // len(DECODING_FIELDS)], label, value,
                                        key=f"{key}_{suffix}", step=step, disabled=fixed, whole=whole,
                                        hi=MAX_SEED if field == "seed" else None, check=_field_check(field, whole),
                                        help=FIELD_HELP.get(suffix))
            values[field] = got
            if problem:
                problems.append(problem)
        stop = st.text_input("Stop strings (comma-separated, \\n for newline)", "", key=f"{key}_stop")
        order = st.selectbox("Sampler order", list(ORDER_CHOICES), key=f"{key}_order",
                             help="The order of temperature, top-k, top-p, min-p and typical-p: llama.cpp's "
                                  "(temperature last) or transformers' (temperature first). llama.cpp filters "
                                  "first and applies the temperature last; transformers divides by the temperature "
                                  "first. At temperature 1.6 and top-p 0.5 the two keep very different tokens. "
                                  "A vLLM server samples only in its own order (temperature, min-p, top-k, top-p): "
                                  "keep the backend's own there (transformers' is the same while min-p is 0).")
    if problems:
        return None
    stops = split_escaped(stop)
    try:
        if custom:
            return DecodingConfig(do_sample=do_sample, **{f: v for f, v in values.items()}, stop=stops,
                                  sampler_order=ORDER_CHOICES[order])
        return base.replace(max_new_tokens=values["max_new_tokens"], seed=values["seed"], stop=stops,
                            sampler_order=ORDER_CHOICES[order])
    except WorkbenchError as err:
        st.error(str(err), icon="⚠️")
        return None
