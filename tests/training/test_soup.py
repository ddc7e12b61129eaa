"""Weight averaging of checkpoints (how the shipped model 1.1.0 was made)."""

import pytest

torch = pytest.importorskip("torch")

from drumscribe.training.soup import soup  # noqa: E402
from drumscribe.training.train import DrumNet  # noqa: E402


def _ckpt(tmp_path, name, seed):
    torch.manual_seed(seed)
    net = DrumNet(72, 5)
    path = tmp_path / name
    torch.save({"state": net.state_dict(), "cfg": net.cfg, "step": seed, "args": {}}, path)
    return path, net.state_dict()


def test_soup_is_the_weighted_mean_of_the_weights(tmp_path):
    (a, sa), (b, sb) = _ckpt(tmp_path, "a.pt", 1), _ckpt(tmp_path, "b.pt", 2)
    out = soup([a, b], [0.25, 0.75])
    for key, value in out["state"].items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.25 * sa[key] + 0.75 * sb[key], atol=1e-6), key
    assert out["args"]["soup"] == [f"0.25 * {a}", f"0.75 * {b}"]
    DrumNet(**out["cfg"]).load_state_dict(out["state"])  # still a loadable network


def test_soup_refuses_weights_that_do_not_sum_to_one(tmp_path):
    (a, _), (b, _) = _ckpt(tmp_path, "a.pt", 1), _ckpt(tmp_path, "b.pt", 2)
    with pytest.raises(SystemExit):
        soup([a, b], [0.5, 0.6])
