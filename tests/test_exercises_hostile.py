"""Hostile calls of the checks in sslteach.exercises: the time budget is keyword-only, and a right answer
computed on modified copies passes with the inputs left unchanged. The engine's own hostile cases
(endless loops, timers, exit()) are in test_checking_hostile.py."""
import pytest
import torch

import sslteach as st


def test_timeout_is_keyword_only():
    with pytest.raises(TypeError):
        st.exercises.check_uniformity(lambda z: st.uniformity(z), 5)


def test_a_right_answer_on_modified_copies_passes_and_inputs_stay_unchanged():
    # hostile in a quieter way: the answer is right but computed on a float64 copy and cast back
    def via_float64(z1, z2, tau):
        return st.info_nce(z1.double(), z2.double(), tau).float()

    assert st.exercises.check_info_nce(via_float64).passed
    assert torch.get_default_dtype() == torch.float32
