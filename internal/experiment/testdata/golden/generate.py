#!/usr/bin/python3
"""Writes the golden inputs and scipy's figures for the experiment tests.

Run from this directory: /usr/bin/python3 generate.py (Debian's python3-scipy).
It writes *.jsonl inputs and cases.json; the Go tests read them and need no
Python. The unit rules are implemented here a second time, independently of
the Go code, so the tests check the join as well as the statistics.
"""

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
from scipy import stats

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def ts(t):
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += (".%06d" % t.microsecond).rstrip("0")
    return s + "Z"


def exposure(flag, variant, key, t):
    # The shape runtime/client's JSON-lines exporter writes.
    return {"flag": flag, "value": variant, "variant": variant, "reason": "SPLIT",
            "rule": "split", "version": "7", "key": key, "time": ts(t)}


def event(name, key, t, value=None):
    e = {"event": name, "key": key}
    if value is not None:
        e["value"] = value
    e["time"] = ts(t)
    return e


def write_lines(path, objs):
    with open(path, "w") as f:
        for o in objs:
            f.write(json.dumps(o, separators=(",", ":")) + "\n")


def dataset_main(rng):
    """Three variants, repeated and conflicting exposures, other flags, events
    before the start (in and out of a 14-day window), events of unknown
    units, integer keys as a warehouse exports them, missing values, and a
    line of each kind in the other file."""
    exps, evs = [], []
    effect = {"classic": 1.0, "guided": 1.08, "adaptive": 0.97}
    variants = ["classic", "guided", "adaptive"]
    for i in range(420):
        key = "u%04d" % i
        ev_key = key
        if i % 37 == 0:  # a numeric key: the exposure has its text, the events the number
            key = str(100000 + i)
            ev_key = 100000 + i
        v = variants[rng.integers(0, 3)]
        start = BASE + timedelta(seconds=int(rng.integers(0, 14 * 86400)))
        if i % 50 == 7:
            start += timedelta(microseconds=int(rng.integers(1, 999999)))
        exps.append(exposure("workbook", v, key, start))
        for _ in range(int(rng.integers(0, 3))):  # later repeats keep the start
            exps.append(exposure("workbook", v, key, start + timedelta(seconds=int(rng.integers(1, 86400)))))
        if i % 60 == 13:  # a unit that saw two variants
            other = variants[(variants.index(v) + 1) % 3]
            exps.append(exposure("workbook", other, key, start + DAY))
        if i % 4 == 0:
            exps.append(exposure("new_report", "true", key, start - DAY))
        lam = rng.gamma(2.0, 0.8)
        # Pre-exposure purchases: inside the 14-day window and before it.
        for _ in range(int(rng.poisson(lam))):
            back = timedelta(seconds=int(rng.integers(1, 14 * 86400)))
            evs.append(event("purchase", ev_key, start - back, round(float(rng.gamma(3.0, 8.0)), 2)))
        if rng.random() < 0.3:
            evs.append(event("purchase", ev_key, start - timedelta(days=20), 50.0))  # outside the window
        if i % 23 == 5:
            evs.append(event("purchase", ev_key, start - timedelta(days=14), 7.5))  # exactly at the window's edge
        for _ in range(int(rng.poisson(lam * effect[v]))):
            fwd = timedelta(seconds=int(rng.integers(0, 7 * 86400)))
            val = round(float(rng.gamma(3.0, 8.0) * effect[v]), 2)
            evs.append(event("purchase", ev_key, start + fwd, None if rng.random() < 0.05 else val))
        if i % 29 == 3:
            evs.append(event("purchase", ev_key, start, 11.0))  # exactly at the start counts
        p_signup = {"classic": 0.2, "guided": 0.27, "adaptive": 0.2}[v]
        if rng.random() < p_signup:
            for _ in range(int(rng.integers(1, 3))):
                evs.append(event("signup", ev_key, start + timedelta(hours=int(rng.integers(0, 48)))))
        if rng.random() < 0.2:
            evs.append(event("signup", ev_key, start - timedelta(hours=2)))  # before the start: ignored
        for _ in range(int(rng.poisson(3 + 2 * (v == "adaptive")))):
            evs.append(event("page_view", ev_key, start + timedelta(minutes=int(rng.integers(0, 5000)))))
    for i in range(30):  # units never exposed
        evs.append(event("purchase", "ghost%d" % i, BASE + DAY, 9.0))
    # One line of each kind in the other's file: skipped, so one mixed file
    # can be passed as both.
    exps.insert(10, event("purchase", "u0001", BASE, 1.0))
    evs.insert(10, exposure("workbook", "guided", "ghost-exposure", BASE))
    rng.shuffle(exps)
    rng.shuffle(evs)
    return exps, evs


def dataset_srm(rng):
    """Two variants whose units are off the 50/50 split by far: 1000 against
    1160, a broken assignment."""
    exps, evs = [], []
    for i in range(2160):
        v = "control" if i < 1000 else "treatment"
        key = "s%05d" % i
        start = BASE + timedelta(seconds=int(rng.integers(0, 7 * 86400)))
        exps.append(exposure("checkout", v, key, start))
        if rng.random() < (0.10 if v == "control" else 0.115):
            evs.append(event("order", key, start + timedelta(hours=1)))
    return exps, evs


def dataset_edge(rng):
    """Tiny: a variant with one unit, and a metric no control unit has."""
    exps, evs = [], []
    for i in range(40):
        v = "off" if i < 20 else "on"
        key = "e%02d" % i
        exps.append(exposure("banner", v, key, BASE + timedelta(hours=i)))
        if v == "on" and i % 3 == 0:
            evs.append(event("refund", key, BASE + timedelta(hours=i + 1), float(i)))
    exps.append(exposure("banner", "loud", "e99", BASE))
    evs.append(event("refund", "e99", BASE + DAY, 4.0))
    return exps, evs


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def analyse(exp_path, ev_path, case):
    flag, metric = case["flag"], case["metric"]
    agg = case.get("aggregate", "sum")
    window = timedelta(days=case["window_days"]) if case.get("window_days") else None
    units = {}
    for e in load(exp_path):
        if "flag" not in e or e["flag"] != flag or e["key"] == "":
            continue
        t = parse_time(e["time"])
        u = units.setdefault(e["key"], {"variants": set(), "start": t})
        u["variants"].add(e["variant"])
        u["start"] = min(u["start"], t)
    ys = {k: [0.0, 0] for k in units}
    xs = {k: [0.0, 0] for k in units}
    for e in load(ev_path):
        if "event" not in e or e["event"] != metric:
            continue
        k = str(e["key"])
        if k not in units or len(units[k]["variants"]) > 1:
            continue
        t = parse_time(e["time"])
        v = e.get("value")
        v = 1.0 if v is None else float(v)
        if t >= units[k]["start"]:
            ys[k][0] += v
            ys[k][1] += 1
        elif window is not None and t >= units[k]["start"] - window:
            xs[k][0] += v
            xs[k][1] += 1

    def val(s):
        if agg == "count":
            return float(s[1])
        if agg == "any":
            return 1.0 if s[1] > 0 else 0.0
        return s[0]

    multi = sum(1 for u in units.values() if len(u["variants"]) > 1)
    by = {}
    for k, u in units.items():
        if len(u["variants"]) == 1:
            (v,) = u["variants"]
            by.setdefault(v, []).append(k)
    control = case["control"]
    names = [control] + sorted(v for v in by if v != control)
    alloc = case.get("allocation")
    if alloc:
        weights = dict((p.split("=")[0], float(p.split("=")[1])) for p in alloc.split(","))
        names = [control] + sorted(set(names + list(weights)) - {control})
    else:
        weights = {v: 1.0 for v in names}
    y = {v: np.array([val(ys[k]) for k in by.get(v, [])]) for v in names}
    result = {"flag": flag, "metric": metric, "aggregate": agg, "control": control,
              "multiple_variants": multi}
    if window is not None:
        ally = np.concatenate([y[v] for v in names])
        allx = np.array([val(xs[k]) for v in names for k in by.get(v, [])])
        theta = np.cov(allx, ally, ddof=1)[0, 1] / np.var(allx, ddof=1)
        xbar = allx.mean()
        adj = {v: np.array([val(ys[k]) - theta * (val(xs[k]) - xbar) for k in by.get(v, [])]) for v in names}
        def within(a):
            return ((a - a.mean()) ** 2).sum() if len(a) > 1 else 0.0
        red = 1 - sum(within(adj[v]) for v in names) / sum(within(y[v]) for v in names)
        result["cuped"] = {"window": "%dd" % case["window_days"], "theta": theta,
                           "covariate_mean": xbar, "variance_reduction": red}
        y = adj
    obs = np.array([len(y[v]) for v in names], dtype=float)
    w = np.array([weights.get(v, 0.0) for v in names])
    f_exp = obs.sum() * w / w.sum()
    result["srm_p_value"] = float(stats.chisquare(obs, f_exp).pvalue)
    rows = []
    c = y[control]
    for v in names:
        t = y[v]
        row = {"variant": v, "units": len(t),
               "mean": float(t.mean()) if len(t) else None,
               "stddev": float(t.std(ddof=1)) if len(t) > 1 else None,
               "diff": None, "lift": None, "ci": None, "p_value": None, "chance_to_beat": None}
        if v != control and len(t) and len(c):
            diff = t.mean() - c.mean()
            row["diff"] = float(diff)
            row["lift"] = float(diff / c.mean()) if c.mean() != 0 else None
            if len(t) > 1 and len(c) > 1:
                vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
                se = math.sqrt(vt + vc)
                df = (vt + vc) ** 2 / (vt ** 2 / (len(t) - 1) + vc ** 2 / (len(c) - 1))
                p = stats.ttest_ind(t, c, equal_var=False).pvalue
                q = stats.t.ppf(0.975, df)
                ci = [diff - q * se, diff + q * se]
                if case.get("sequential"):
                    tuning = case.get("tuning", 5000)
                    a = 0.05
                    n = len(t) + len(c)
                    V = se * se
                    rho2 = (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / tuning
                    tau2 = rho2 * n * V
                    lam = math.sqrt(V / (V + tau2)) * math.exp(diff * diff * tau2 / (2 * V * (V + tau2)))
                    p = min(1.0, 1 / lam)
                    half = math.sqrt(2 * V * (V + tau2) / tau2 * math.log(math.sqrt((V + tau2) / V) / a))
                    ci = [diff - half, diff + half]
                row["ci"] = [float(ci[0]), float(ci[1])]
                row["p_value"] = float(p)
                row["chance_to_beat"] = float(stats.norm.cdf(diff / se))
        rows.append(row)
    result["variants"] = rows
    if case.get("sequential"):
        result["sequential"] = {"tuning": case.get("tuning", 5000)}
    return result


def main():
    rng = np.random.default_rng(20261130)
    for name, make in [("main", dataset_main), ("srm", dataset_srm), ("edge", dataset_edge)]:
        exps, evs = make(rng)
        write_lines(name + ".exposures.jsonl", exps)
        write_lines(name + ".events.jsonl", evs)
    cases = [
        {"name": "purchase_sum", "data": "main", "flag": "workbook", "metric": "purchase", "control": "classic"},
        {"name": "signup_any_allocation", "data": "main", "flag": "workbook", "metric": "signup", "aggregate": "any",
         "control": "classic", "allocation": "classic=50,guided=25,adaptive=25"},
        {"name": "page_view_count", "data": "main", "flag": "workbook", "metric": "page_view", "aggregate": "count",
         "control": "guided"},
        {"name": "purchase_cuped", "data": "main", "flag": "workbook", "metric": "purchase", "control": "classic",
         "window_days": 14},
        {"name": "purchase_sequential", "data": "main", "flag": "workbook", "metric": "purchase", "control": "classic",
         "sequential": True},
        {"name": "signup_sequential_tuned", "data": "main", "flag": "workbook", "metric": "signup", "aggregate": "any",
         "control": "classic", "sequential": True, "tuning": 300},
        {"name": "srm", "data": "srm", "flag": "checkout", "metric": "order", "aggregate": "any", "control": "control"},
        {"name": "srm_matching_allocation", "data": "srm", "flag": "checkout", "metric": "order", "aggregate": "any",
         "control": "control", "allocation": "control=1000,treatment=1160"},
        {"name": "edge", "data": "edge", "flag": "banner", "metric": "refund", "control": "off"},
        {"name": "allocated_but_unseen", "data": "edge", "flag": "banner", "metric": "refund", "control": "off",
         "allocation": "off=45,on=45,loud=5,quiet=5"},
    ]
    for c in cases:
        c["expect"] = analyse(c["data"] + ".exposures.jsonl", c["data"] + ".events.jsonl", c)
    with open("cases.json", "w") as f:
        json.dump(cases, f, indent=1, allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
