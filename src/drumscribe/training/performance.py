"""Drum performances as ``(time, role, velocity)``: grooves, fills with toms, ghost notes, flams,
open/closed/pedal hats, crash/ride, humanized timing and velocity (``make_performance``).
"""

from __future__ import annotations

import numpy as np

from drumscribe.training.roles import HIHATS, ROLES, TOMS, R


def make_performance(rng: np.random.Generator, duration: float,
                     whole_kit: bool = False) -> list[tuple[float, int, float]]:
    """A drum performance of ``duration`` seconds: list of (time s, role id, velocity 0..1).

    ``whole_kit`` (the 2.0 training sets): a second random stream adds what real kits play and the
    earlier sets lacked: the floor tom in unison with kick and snare, grooves kept on the floor tom,
    more open hats, ride bell accents. Without it the performance is exactly the earlier sets'.
    """
    if rng.random() < 0.12:
        return _random_hits(rng, duration)
    if whole_kit:
        return _whole_kit(make_performance(rng, duration), np.random.default_rng(rng.integers(2**63)), duration)
    tempo = float(rng.uniform(60, 220)) if rng.random() < 0.8 else float(rng.uniform(80, 160))
    beat = 60.0 / tempo
    meter = 4 if rng.random() < 0.85 else 3
    swing = rng.random() < 0.25
    swing_ratio = rng.uniform(0.58, 0.68) if swing else 0.5
    jitter = rng.uniform(0.002, 0.014)
    vel_base = rng.uniform(0.45, 1.0)
    ev: list[tuple[float, int, float]] = []

    def t_of(bar_start, slot16):  # slot in 16ths (4 per beat)
        b, s = divmod(slot16, 4)
        pos = b * beat
        if swing:
            frac = {0: 0, 1: swing_ratio / 2, 2: swing_ratio, 3: swing_ratio + (1 - swing_ratio) / 2}[s]
        else:
            frac = s / 4
        return bar_start + pos + frac * beat

    def add(t, role, vel):
        t = t + rng.normal(0, jitter)
        if 0.02 <= t < duration - 0.05:
            ev.append((float(t), role, float(np.clip(vel * vel_base * rng.uniform(0.85, 1.1), 0.05, 1.0))))

    def section_style():
        keeper = rng.choice(["hh", "ride", "hh_open", "hh_ped_ride"], p=[0.6, 0.22, 0.06, 0.12])
        rate = rng.choice([1, 2, 4], p=[0.15, 0.55, 0.3])  # hits per beat
        if tempo > 150 and rate == 4:
            rate = 2
        slots = meter * 4
        kick = np.zeros(slots, bool)
        kick[0] = True
        if meter == 4:
            kick[8] = rng.random() < 0.7
        for s in range(slots):
            if rng.random() < 0.12:
                kick[s] = True
        snare = np.zeros(slots, bool)
        mode = rng.random()
        if meter == 4:
            if mode < 0.7:
                snare[[4, 12]] = True
            elif mode < 0.85:
                snare[8] = True
            else:
                snare[rng.choice(slots, 3, replace=False)] = True
        else:
            snare[[4, 8] if rng.random() < 0.5 else [8]] = True
        ghosts = rng.uniform(0, 0.25) if rng.random() < 0.5 else 0.0
        open_prob = rng.uniform(0, 0.3) if rng.random() < 0.5 else 0.0
        return keeper, rate, kick, snare, ghosts, open_prob

    bar_len = meter * beat
    n_bars = int(np.ceil(duration / bar_len)) + 1
    phrase = int(rng.choice([2, 4, 8]))
    style = section_style()
    t0 = rng.uniform(0, 1.0) - (bar_len if rng.random() < 0.3 else 0)
    crash_next = rng.random() < 0.5
    for bar in range(n_bars):
        start = t0 + bar * bar_len
        if bar > 0 and bar % phrase == 0 and rng.random() < 0.3:
            style = section_style()
        keeper, rate, kick, snare, ghosts, open_prob = style
        fill = (bar % phrase == phrase - 1) and rng.random() < 0.75
        fill_from = meter * 4 - int(rng.choice([4, 8, meter * 4])) if fill else meter * 4
        fill_from = max(fill_from, 0)
        if crash_next:
            add(start, R["crash"] if rng.random() < 0.85 else R["ride"], rng.uniform(0.7, 1.0))
            add(start, R["kick"], rng.uniform(0.7, 1.0))
            crash_next = False
        step = 4 // rate
        for s in range(0, fill_from):
            if s % step == 0:
                accent = 1.0 if s % 4 == 0 else rng.uniform(0.55, 0.85)
                if keeper == "hh":
                    role = R["hihat_open"] if (s % 4 == 2 and rng.random() < open_prob) else R["hihat_closed"]
                    add(t_of(start, s), role, accent)
                elif keeper == "hh_open":
                    add(t_of(start, s), R["hihat_open"] if rng.random() < 0.7 else R["hihat_closed"], accent)
                else:
                    add(t_of(start, s), R["ride"], accent)
                    if keeper == "hh_ped_ride" and s % 8 == 4:
                        add(t_of(start, s), R["hihat_pedal"], rng.uniform(0.5, 0.9))
            if kick[s] or (rng.random() < 0.03):
                add(t_of(start, s), R["kick"], rng.uniform(0.7, 1.0))
            if snare[s]:
                if rng.random() < 0.06:
                    add(t_of(start, s), R["side_stick"], rng.uniform(0.6, 1.0))
                else:
                    if rng.random() < 0.05:  # flam
                        add(t_of(start, s) - rng.uniform(0.015, 0.035), R["snare"], rng.uniform(0.2, 0.5))
                    add(t_of(start, s), R["snare"], rng.uniform(0.75, 1.0))
            elif ghosts and s % 2 == 1 and rng.random() < ghosts:
                add(t_of(start, s), R["snare"], rng.uniform(0.08, 0.3))
            if rng.random() < 0.01:
                add(t_of(start, s), R["crash"], rng.uniform(0.5, 1.0))
        if fill:
            crash_next = rng.random() < 0.7
            sub = rng.choice([2, 4, 3], p=[0.3, 0.5, 0.2])  # 8ths, 16ths, triplets
            n_toms = int(rng.integers(1, 4))
            toms = sorted(rng.choice(TOMS, n_toms, replace=False), key=TOMS.index)
            order = toms + [R["snare"]] if rng.random() < 0.6 else [R["snare"]] + toms
            fbeats = (meter * 4 - fill_from) / 4
            n_hits = int(round(fbeats * sub))
            kick_under = rng.random() < 0.4
            for k in range(n_hits):
                t = start + fill_from / 4 * beat + k * beat / sub
                if rng.random() < 0.12:
                    continue
                if rng.random() < 0.2:
                    role = int(rng.choice(order))
                else:
                    role = order[min(len(order) - 1, int(k * len(order) / max(n_hits, 1)))]
                if rng.random() < 0.08:  # flam
                    add(t - rng.uniform(0.015, 0.035), role, rng.uniform(0.25, 0.55))
                add(t, role, rng.uniform(0.5, 1.0))
                if rng.random() < 0.15:  # unison hits (two toms / snare+tom)
                    add(t, int(rng.choice(order)), rng.uniform(0.5, 1.0))
                if kick_under and k % sub == 0:
                    add(t, R["kick"], rng.uniform(0.6, 1.0))
    if rng.random() < 0.1:  # a little percussion to ignore
        for _ in range(int(rng.integers(3, 20))):
            add(rng.uniform(0, duration), R["extra"], rng.uniform(0.3, 1.0))
    ev.sort()
    return ev


def _whole_kit(ev, rng, duration):
    """Add unison floor-tom figures, floor-tom grooves and open hats to a performance (see above)."""
    ev = list(ev)
    kicks = [t for t, r, _ in ev if r == R["kick"]]
    snares = [t for t, r, v in ev if r == R["snare"] and v > 0.4]
    if kicks and rng.random() < 0.35:  # floor tom with kick (and snare): a rock unison figure
        share = rng.uniform(0.15, 0.8)
        for t in kicks + (snares if rng.random() < 0.5 else []):
            if rng.random() < share:
                ev.append((t + rng.normal(0, 0.004), R["tom_low"], float(rng.uniform(0.5, 1.0))))
    if rng.random() < 0.12:  # a groove kept on the floor tom (or a rack tom) instead of the hats
        role = R["tom_low"] if rng.random() < 0.7 else R["tom_high"]
        hats = [(t, v) for t, r, v in ev if r in HIHATS]
        keep = rng.random() < 0.3
        ev = [e for e in ev if keep or e[1] not in HIHATS]
        ev += [(t, role, v * rng.uniform(0.8, 1.1)) for t, v in hats]
    if rng.random() < 0.3:  # open hats: more of them, on and off the beat
        p = rng.uniform(0.1, 0.5)
        ev = [(t, R["hihat_open"] if (r == R["hihat_closed"] and rng.random() < p) else r, v) for t, r, v in ev]
    if rng.random() < 0.15:  # a swapped cymbal: ride bell or china-like crash accents on the beat
        ev = [(t, R["ride"] if (r == R["crash"] and rng.random() < 0.5) else r, v) for t, r, v in ev]
    ev = [(float(t), r, float(np.clip(v, 0.05, 1.0))) for t, r, v in ev if 0.02 <= t < duration - 0.05]
    ev.sort()
    return ev


def _random_hits(rng, duration):
    ev = []
    rates = {r: rng.uniform(0.0, 2.5) for r in range(len(ROLES))}
    rates[R["extra"]] = rng.uniform(0, 0.3)
    rates[R["side_stick"]] = rng.uniform(0, 0.5)
    for role, rate in rates.items():
        n = rng.poisson(rate * duration)
        for t in rng.uniform(0.05, duration - 0.1, n):
            ev.append((float(t), role, float(rng.uniform(0.1, 1.0))))
    ev.sort()
    return ev

