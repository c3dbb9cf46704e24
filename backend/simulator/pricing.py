"""Outcome probabilities from simple score models, and bookmaker prices from probabilities.

Pure math: no randomness, no state, no clock. A game's *outlook* is built from its fixed strength
parameters and a frozen snapshot of its live state (score, period, time left); it answers
``probabilities(family, scope, line, outcomes, param)`` for every market family the catalog offers.

* :class:`TimedOutlook` -- timed sports. Goals (or points) in the time left follow a Poisson
  process (football, hockey, baseball) or a normal approximation (basketball, handball, cricket).
* :class:`SetsOutlook` -- set sports. A point is won with a fixed chance; a set is a race to its
  target, the match a race to ``sets_to_win`` sets.
* :class:`OutrightOutlook` -- a competition winner market over the competition's teams.

Prices are ``1 / (p * (1 + margin))`` rounded the way books show them (3 decimals below 2.0,
2 decimals above) and clamped to ``[MIN_PRICE, MAX_PRICE]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from .catalog import SportProfile

MIN_PRICE = 1.01
MAX_PRICE = 251.0
DECIDED = 0.001  # an outcome this unlikely (or this likely, from the other side) is settled in play


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def round_price(raw: float) -> float:
    """Clamp and round a decimal price the way a book displays it."""
    price = min(max(raw, MIN_PRICE), MAX_PRICE)
    return round(price, 3) if price < 2.0 else round(price, 2)


def price_for(probability: float, margin: float) -> float:
    """The price of an outcome of ``probability`` in a book with the given overround."""
    if probability <= 1e-9:
        return MAX_PRICE
    return round_price(1.0 / (probability * (1.0 + margin)))


def jitter_price(old: float, baseline: float, shock: float, volatility: float = 0.035) -> float:
    """One random-walk step of a price around its model price (mean-reverting in log space).

    ``shock`` is a standard normal draw supplied by the caller, so this stays deterministic.
    """
    deviation = math.log(old / baseline) if old > 0 and baseline > 0 else 0.0
    return round_price(baseline * math.exp(0.7 * deviation + volatility * shock))


class IntDist(Protocol):
    """A distribution over integers (a final score, a difference, a total)."""

    def p_gt(self, x: float) -> float: ...

    def p_eq(self, k: int) -> float: ...

    def p_range(self, lo: int, hi: int) -> float: ...

    def p_odd(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Pmf:
    """An explicit probability mass function: ``P(X = lo + i) = probs[i]``."""

    lo: int
    probs: tuple[float, ...]

    @staticmethod
    def point(k: int) -> Pmf:
        return Pmf(k, (1.0,))

    @staticmethod
    def poisson(lam: float, shift: int = 0) -> Pmf:
        if lam <= 1e-9:
            return Pmf.point(shift)
        top = int(lam + 8.0 * math.sqrt(lam) + 8.0)
        p = math.exp(-lam)
        probs = [p]
        for k in range(1, top + 1):
            p *= lam / k
            probs.append(p)
        return Pmf(shift, tuple(probs))

    def negated(self) -> Pmf:
        return Pmf(-(self.lo + len(self.probs) - 1), tuple(reversed(self.probs)))

    def plus(self, other: Pmf) -> Pmf:
        """The distribution of the sum of two independent variables."""
        out = [0.0] * (len(self.probs) + len(other.probs) - 1)
        for i, a in enumerate(self.probs):
            if a < 1e-15:
                continue
            for j, b in enumerate(other.probs):
                out[i + j] += a * b
        return Pmf(self.lo + other.lo, tuple(out))

    def items(self) -> list[tuple[int, float]]:
        return [(self.lo + i, p) for i, p in enumerate(self.probs)]

    def p_gt(self, x: float) -> float:
        first = math.floor(x) + 1 - self.lo
        return sum(self.probs[max(first, 0):]) if first < len(self.probs) else 0.0

    def p_eq(self, k: int) -> float:
        i = k - self.lo
        return self.probs[i] if 0 <= i < len(self.probs) else 0.0

    def p_range(self, lo: int, hi: int) -> float:
        a, b = max(lo - self.lo, 0), min(hi - self.lo, len(self.probs) - 1)
        return sum(self.probs[a : b + 1]) if a <= b else 0.0

    def p_odd(self) -> float:
        return sum(p for k, p in self.items() if k % 2)


@dataclass(frozen=True, slots=True)
class Normal:
    """A normal approximation of an integer-valued score, with continuity correction."""

    mean: float
    sd: float

    def _cdf(self, x: float) -> float:
        return normal_cdf((x - self.mean) / self.sd)

    def p_gt(self, x: float) -> float:
        return 1.0 - self._cdf(math.floor(x) + 0.5)

    def p_eq(self, k: int) -> float:
        return self._cdf(k + 0.5) - self._cdf(k - 0.5)

    def p_range(self, lo: int, hi: int) -> float:
        return max(self._cdf(hi + 0.5) - self._cdf(lo - 0.5), 0.0)

    def p_odd(self) -> float:
        return 0.5


def _normal_or_point(mean: float, sd: float) -> IntDist:
    return Normal(mean, sd) if sd > 0.05 else Pmf.point(round(mean))


@dataclass(frozen=True, slots=True)
class ScopeDists:
    """Final-score distributions of one scope (the match, one period, one statistic)."""

    team1: IntDist
    team2: IntDist
    diff: IntDist  # team1 - team2
    total: IntDist


def _poisson_scope(cur1: int, cur2: int, rem1: float, rem2: float) -> ScopeDists:
    t1, t2 = Pmf.poisson(rem1, cur1), Pmf.poisson(rem2, cur2)
    return ScopeDists(t1, t2, t1.plus(t2.negated()), Pmf.poisson(rem1 + rem2, cur1 + cur2))


def _normal_scope(cur1: int, cur2: int, rem1: float, rem2: float, sd1: float, sd2: float) -> ScopeDists:
    both = math.hypot(sd1, sd2)
    return ScopeDists(
        _normal_or_point(cur1 + rem1, sd1),
        _normal_or_point(cur2 + rem2, sd2),
        _normal_or_point(cur1 - cur2 + rem1 - rem2, both),
        _normal_or_point(cur1 + cur2 + rem1 + rem2, both),
    )


def two_way(p_first: float) -> list[float]:
    return [p_first, 1.0 - p_first]


def _common_family(family: str, s: ScopeDists, line: float | None) -> list[float] | None:
    """Families priced the same way in every sport (totals, handicaps, team totals, odd/even)."""
    if family == "total":
        return two_way(s.total.p_gt(line or 0.0))
    if family == "handicap":
        return two_way(s.diff.p_gt(-(line or 0.0)))
    if family == "team1_total":
        return two_way(s.team1.p_gt(line or 0.0))
    if family == "team2_total":
        return two_way(s.team2.p_gt(line or 0.0))
    if family == "odd_even":
        return two_way(s.total.p_odd())
    return None


@dataclass(frozen=True, slots=True)
class TimedSnapshot:
    """A timed game's state as far as pricing cares; prematch is period 1 with all time left."""

    period: int = 1
    period_left: float = 1.0  # fraction of the current period still to play
    period_scores: tuple[tuple[int, int], ...] = ()  # one pair per period started so far
    stat_counts: tuple[tuple[int, int], ...] = ()  # per StatSpec of the sport


class TimedOutlook:
    """Probabilities for a timed sport from the sides' expected scores ``mu1``/``mu2``."""

    def __init__(self, profile: SportProfile, mu1: float, mu2: float, snap: TimedSnapshot) -> None:
        self.profile = profile
        self.mu = (mu1, mu2)
        self.snap = snap
        self._scopes: dict[tuple[str, int], ScopeDists] = {}

    def _share_left(self, period: int) -> float:
        if period < self.snap.period:
            return 0.0
        if period == self.snap.period:
            return self.snap.period_left
        return 1.0

    def _team_left(self, team: int, period: int) -> float:
        """Expected score still to come for ``team`` (0/1) in ``period``."""
        p = self.profile
        if p.alternate_batting and (period - 1) % 2 != team:
            return 0.0
        # a batting side scores its whole expected total in its own innings
        per_period = self.mu[team] if p.alternate_batting else self.mu[team] / p.periods
        return per_period * self._share_left(period)

    def _scored(self, period: int) -> tuple[int, int]:
        scores = self.snap.period_scores
        return scores[period - 1] if period <= len(scores) else (0, 0)

    def scope(self, scope: int) -> ScopeDists:
        key = ("score", scope)
        found = self._scopes.get(key)
        if found is not None:
            return found
        periods = range(1, self.profile.periods + 1) if scope == 0 else (scope,)
        cur1 = sum(self._scored(p)[0] for p in periods)
        cur2 = sum(self._scored(p)[1] for p in periods)
        rem1 = sum(self._team_left(0, p) for p in periods)
        rem2 = sum(self._team_left(1, p) for p in periods)
        if self.profile.score_model == "poisson":
            dists = _poisson_scope(cur1, cur2, rem1, rem2)
        else:
            sd1 = self.profile.score_sd * math.sqrt(rem1 / self.mu[0]) if self.mu[0] > 0 else 0.0
            sd2 = self.profile.score_sd * math.sqrt(rem2 / self.mu[1]) if self.mu[1] > 0 else 0.0
            dists = _normal_scope(cur1, cur2, rem1, rem2, sd1, sd2)
        self._scopes[key] = dists
        return dists

    def stat_scope(self, index: int) -> ScopeDists:
        key = ("stat", index)
        found = self._scopes.get(key)
        if found is None:
            spec = self.profile.stats[index]
            counts = self.snap.stat_counts[index] if index < len(self.snap.stat_counts) else (0, 0)
            played = sum(self.profile.period_minutes * (1.0 - self._share_left(p)) for p in range(1, self.profile.periods + 1))
            left = max(1.0 - played / self.profile.match_minutes, 0.0)
            strength = self.mu[0] / (self.mu[0] + self.mu[1])
            rem1, rem2 = 2 * spec.mean * left * strength, 2 * spec.mean * left * (1 - strength)
            found = _poisson_scope(counts[0], counts[1], rem1, rem2)
            self._scopes[key] = found
        return found

    def _winner3(self, s: ScopeDists) -> tuple[float, float, float]:
        p1, px = s.diff.p_gt(0), s.diff.p_eq(0)
        return p1, px, max(1.0 - p1 - px, 0.0)

    def probabilities(
        self, family: str, scope: int, line: float | None, outcomes: Sequence[tuple[int, ...]], param: int
    ) -> list[float]:
        if family.startswith("stat_"):
            s = self.stat_scope(param)
            found = _common_family(family[5:], s, line)
            if found is None:
                raise ValueError(f"unknown stat family {family}")
            return found
        s = self.scope(scope)
        found = _common_family(family, s, line)
        if found is not None:
            return found
        if family == "winner3":
            return list(self._winner3(s))
        if family == "winner2":
            p1, px, _ = self._winner3(s)
            return two_way(p1 + px / 2)
        if family == "double":
            p1, px, p2 = self._winner3(s)
            return [p1 + px, p1 + p2, px + p2]
        if family == "dnb":
            p1, _, p2 = self._winner3(s)
            return two_way(p1 / (p1 + p2) if p1 + p2 > 0 else 0.5)
        if family == "btts":
            return two_way((1.0 - s.team1.p_eq(0)) * (1.0 - s.team2.p_eq(0)))
        if family == "correct":
            return [s.team1.p_eq(a) * s.team2.p_eq(b) for a, b in outcomes]
        if family == "exact_total":
            last = outcomes[-1][0]
            return [s.total.p_eq(o[0]) for o in outcomes[:-1]] + [s.total.p_gt(last - 0.5)]
        if family == "margin":
            return [self._margin(s, side, lo, hi) for side, lo, hi in outcomes]
        if family == "next_goal":
            rem1 = sum(self._team_left(0, p) for p in range(1, self.profile.periods + 1))
            rem2 = sum(self._team_left(1, p) for p in range(1, self.profile.periods + 1))
            none = math.exp(-(rem1 + rem2))
            share = rem1 / (rem1 + rem2) if rem1 + rem2 > 0 else 0.5
            return [share * (1 - none), none, (1 - share) * (1 - none)]
        if family == "htft":
            return self._htft(outcomes)
        raise ValueError(f"unknown family {family}")

    @staticmethod
    def _margin(s: ScopeDists, side: int, lo: int, hi: int) -> float:
        """Winning margin band: side 1 home wins by lo..hi, side 2 away does, side 0 a draw."""
        if side == 0:
            return s.diff.p_eq(0)
        if side == 1:
            return s.diff.p_range(lo, hi)
        return s.diff.p_range(-hi, -lo)

    def _htft(self, outcomes: Sequence[tuple[int, ...]]) -> list[float]:
        first = self.scope(1).diff
        second = self.scope(2).diff
        if not isinstance(first, Pmf) or not isinstance(second, Pmf):
            raise TypeError("half time / full time needs a Poisson sport")
        joint: dict[tuple[int, ...], float] = {}
        for d1, p1 in first.items():
            for d2, p2 in second.items():
                key = (_sign(d1), _sign(d1 + d2))
                joint[key] = joint.get(key, 0.0) + p1 * p2
        return [joint.get(o, 0.0) for o in outcomes]


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@lru_cache(maxsize=4096)
def race(need1: int, need2: int, p: float) -> float:
    """Chance that side 1 wins ``need1`` points before side 2 wins ``need2``, each point won with p."""
    if need1 <= 0:
        return 1.0
    if need2 <= 0:
        return 0.0
    q = 1.0 - p
    return sum(math.comb(need1 - 1 + j, j) * p**need1 * q**j for j in range(need2))


@dataclass(frozen=True, slots=True)
class SetsSnapshot:
    """A set game's state: finished sets and the points of the set in play."""

    sets: tuple[tuple[int, int], ...] = ()
    current: tuple[int, int] = (0, 0)


class SetsOutlook:
    """Probabilities for a set sport from side 1's chance ``point_p`` to win a single point."""

    def __init__(self, profile: SportProfile, point_p: float, snap: SetsSnapshot) -> None:
        self.profile = profile
        self.point_p = point_p
        self.snap = snap
        target = profile.set_target
        self.q_fresh = race(target, target, round(point_p, 4))
        a, b = snap.current
        self.q_current = race(max(target - a, 1), max(target - b, 1), round(point_p, 4))
        self._final: dict[tuple[int, int], float] | None = None
        self._scopes: dict[int, ScopeDists] = {}

    @property
    def sets_won(self) -> tuple[int, int]:
        s1 = sum(1 for a, b in self.snap.sets if a > b)
        return s1, len(self.snap.sets) - s1

    def final_sets(self) -> dict[tuple[int, int], float]:
        """Distribution of the final set score, e.g. {(2, 0): .4, (2, 1): .2, ...}."""
        if self._final is not None:
            return self._final
        k = self.profile.sets_to_win
        start = self.sets_won
        states: dict[tuple[int, int], float] = {start: 1.0}
        final: dict[tuple[int, int], float] = {}
        first = True
        while states:
            nxt: dict[tuple[int, int], float] = {}
            q = self.q_current if first else self.q_fresh
            first = False
            for (a, b), p in states.items():
                if a >= k or b >= k:
                    final[(a, b)] = final.get((a, b), 0.0) + p
                    continue
                for key, w in (((a + 1, b), q), ((a, b + 1), 1.0 - q)):
                    nxt[key] = nxt.get(key, 0.0) + p * w
            states = nxt
        self._final = final
        return final

    def _points(self, scope: int) -> ScopeDists:
        """Points of the match (scope 0) or of one set, as normal approximations."""
        found = self._scopes.get(scope)
        if found is None:
            found = self._scopes[scope] = self._points_uncached(scope)
        return found

    def _points_uncached(self, scope: int) -> ScopeDists:
        prof = self.profile
        edge = 2.0 * self.point_p - 1.0
        done = len(self.snap.sets)
        if scope == 0:
            played1 = sum(a for a, _ in self.snap.sets) + self.snap.current[0]
            played2 = sum(b for _, b in self.snap.sets) + self.snap.current[1]
            sets_left = sum((a + b) * p for (a, b), p in self.final_sets().items()) - done
            in_play = sum(self.snap.current)
            remaining = max(sets_left * prof.points_per_set - in_play, 0.5)
            sd = prof.points_sd * math.sqrt(max(sets_left, 0.05))
        elif scope <= done:
            a, b = self.snap.sets[scope - 1]
            return ScopeDists(Pmf.point(a), Pmf.point(b), Pmf.point(a - b), Pmf.point(a + b))
        elif scope == done + 1:
            played1, played2 = self.snap.current
            remaining = max(prof.points_per_set - played1 - played2, 2.0)
            sd = prof.points_sd * math.sqrt(remaining / prof.points_per_set)
        else:
            played1 = played2 = 0
            remaining, sd = prof.points_per_set, prof.points_sd
        share = 0.5 + edge / 2
        return _normal_scope(played1, played2, remaining * share, remaining * (1 - share), sd, sd)

    def probabilities(
        self, family: str, scope: int, line: float | None, outcomes: Sequence[tuple[int, ...]], param: int
    ) -> list[float]:
        if family == "winner2" and scope == 0:
            k = self.profile.sets_to_win
            return two_way(sum(p for (a, _), p in self.final_sets().items() if a >= k))
        if family == "winner2":
            done = len(self.snap.sets)
            if scope <= done:
                a, b = self.snap.sets[scope - 1]
                return two_way(1.0 if a > b else 0.0)
            return two_way(self.q_current if scope == done + 1 else self.q_fresh)
        if family == "set_score":
            final = self.final_sets()
            return [final.get((a, b), 0.0) for a, b in outcomes]
        if family == "sets_total":
            return two_way(sum(p for (a, b), p in self.final_sets().items() if a + b > (line or 0.0)))
        if family == "sets_handicap":
            return two_way(sum(p for (a, b), p in self.final_sets().items() if a - b + (line or 0.0) > 0))
        found = _common_family(family, self._points(scope), line)
        if found is None:
            raise ValueError(f"unknown family {family}")
        return found


class OutrightOutlook:
    """Competition winner style markets from per-team strengths (index = team position)."""

    def __init__(self, strengths: Sequence[float]) -> None:
        weights = [math.exp(3.0 * s) for s in strengths]
        total = sum(weights)
        self.win = [w / total for w in weights]
        self.strengths = tuple(strengths)

    def top(self, k: int) -> list[float]:
        w = [p**0.7 for p in self.win]
        total = sum(w)
        return [min(0.98, k * x / total) for x in w]

    def probabilities(
        self, family: str, scope: int, line: float | None, outcomes: Sequence[tuple[int, ...]], param: int
    ) -> list[float]:
        if family == "outright_winner":
            return [self.win[o[0]] for o in outcomes]
        if family == "outright_top":
            top = self.top(param)
            return [top[o[0]] for o in outcomes]
        if family == "h2h":
            i, j = outcomes[0]
            p = 1.0 / (1.0 + math.exp(-4.0 * (self.strengths[i] - self.strengths[j])))
            return two_way(p)
        raise ValueError(f"unknown outright family {family}")


Outlook = TimedOutlook | SetsOutlook | OutrightOutlook
