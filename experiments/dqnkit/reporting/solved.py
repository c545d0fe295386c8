"""The wall clock a run took to solve its game, from its own logs: the measure of Lapan, *Deep
Reinforcement Learning Hands-On* 2nd ed., Chapter 9 (minutes to a mean of the last 100 games >= 17).

"Solved" is the book's rule (Lapan, Deep RL Hands-On, ch. 9): the mean score of the last 100
training games (fewer before there are 100) reaches a threshold (17 for Pong, whose maximum is
21). The time is training time summed over the run's segments, each from its start to its end,
a kill included (the steps a kill threw away and the next segment played again count, as they
cost time); start-up between segments does not count. ``segments.jsonl`` holds each segment's
start, progress and end; a segment with no "end" line was killed, and its last line is the last
moment known to belong to it (so its time is a lower bound, short by at most a log interval).
"""
from dataclasses import dataclass, field


@dataclass
class Segment:
    start_step: int
    start_time: float
    last_step: int
    last_time: float
    ended_by: str = None  # None: killed (no "end" line)
    actor_process: bool = None  # as its "start" line says (None: a journal from before it said)


@dataclass
class SolveTime:
    solved: bool
    step: int = None  # agent steps when the solving game ended (or the last game's)
    games: int = None
    mean: float = None  # the last-games mean at that game
    seconds: float = None  # training time summed over segments up to that game
    segments: list = field(default_factory=list)  # the segments counted
    estimated: bool = False  # a killed segment's end was taken from its last line, or a game's from its segment's


def segments_of(journal):
    """`Segment`s from segments.jsonl records, in order."""
    segments = []
    for record in journal:
        if record["event"] == "start":
            segments.append(Segment(record["step"], record["time"], record["step"], record["time"],
                                    actor_process=record.get("actor_process")))
        elif segments:
            segment = segments[-1]
            segment.last_step, segment.last_time = record["step"], record["time"]
            if record["event"] == "end":
                segment.ended_by = record.get("reason", "done")
    return segments


def first_solving_game(log, threshold, window=100):
    """(index, mean) of the first game at which the mean of the last `window` games reaches
    `threshold`, or (None, best mean seen)."""
    total, best = 0.0, None
    scores = []
    for index, record in enumerate(log):
        scores.append(record["reward"])
        total += record["reward"]
        if len(scores) > window:
            total -= scores[-window - 1]
        mean = total / min(len(scores), window)
        if mean >= threshold:
            return index, mean
        best = mean if best is None else max(best, mean)
    return None, best


def solve_time(log, journal, threshold, window=100):
    """How long the run in `log` (log.jsonl records) with `journal` (segments.jsonl records)
    took to reach `threshold`; if it has not, the time and steps to its last finished game."""
    segments = segments_of(journal)
    index, mean = first_solving_game(log, threshold, window)
    solved = index is not None
    game = log[index] if solved else (log[-1] if log else None)
    result = SolveTime(solved=solved, mean=mean)
    if game is None or not segments:
        return result
    result.step, result.games = game["step"], (index + 1 if solved else len(log))
    owner = _segment_that_played(segments, game)
    seconds = 0.0
    for segment in segments[:owner]:
        seconds += segment.last_time - segment.start_time
        result.estimated |= segment.ended_by is None
    segment = segments[owner]
    if "time" in game:  # to the end of the solving game, or (not solved) of the last game: steps and time agree
        seconds += game["time"] - segment.start_time
    else:  # logs without game times: up to the segment's last known moment, an upper bound
        seconds += segment.last_time - segment.start_time
        result.estimated |= segment.ended_by is None
    result.segments = segments[:owner + 1]
    result.seconds = seconds
    return result


def _segment_that_played(segments, game):
    """Index of the segment that played `game`: by its end time where the log has one (segments
    may start at lower steps than earlier ones after a fallback to an older checkpoint), else the
    last segment started before its step."""
    if "time" in game:
        started = [i for i, segment in enumerate(segments) if segment.start_time <= game["time"]]
        if started:
            return started[-1]
    before = [i for i, segment in enumerate(segments) if segment.start_step < game["step"]]
    return before[-1] if before else 0
