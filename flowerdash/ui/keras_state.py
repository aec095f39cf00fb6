"""Keep Keras's state between Streamlit reruns.

After every script run Streamlit calls ``keras.backend.clear_session()`` (its
``_clean_problem_modules``, meant for scripts that build a new model on each run). For the
dashboard, whose models live in ``st.cache_resource`` and whose training runs in a background
thread, that is harmful on every click:

- it empties TensorFlow's process-wide kernel cache, so the next prediction or explanation
  (in any session, and the training thread's next step) creates its kernels again;
- it runs a full ``gc.collect()`` over TensorFlow's objects;
- it resets Keras's global name counters while a background run may be building a model.

``keep_keras_state`` replaces that clean-up, once per process, by one that leaves Keras alone
and still closes matplotlib figures as Streamlit's does. It patches a private Streamlit function
(there is no setting for it); ``tests/test_keras_state.py`` fails if a Streamlit upgrade renames
or stops calling it, and then this module can go. What the clean-up costs: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import sys
from typing import Any

from streamlit.runtime.scriptrunner import script_runner

_original = getattr(script_runner, "_clean_problem_modules", None)


def _clean_problem_modules_but_keras() -> None:
    """Streamlit's post-run clean-up without ``keras.backend.clear_session()``."""
    plt: Any = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def keep_keras_state() -> bool:
    """Stop Streamlit clearing Keras after each script run; True once in place. Idempotent."""
    if _original is None:  # a Streamlit without the clean-up: nothing to keep
        return False
    script_runner._clean_problem_modules = _clean_problem_modules_but_keras
    return True
