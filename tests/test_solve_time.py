"""The race's clock (dqnkit/reporting/solved.py): which games count, and which segments' wall clock."""
import pytest

from dqnkit.reporting.solved import first_solving_game, segments_of, solve_time


def game(step, reward, time=None):
    record = {"step": step, "reward": reward, "length": 10}
    if time is not None:
        record["time"] = time
    return record


def test_the_mean_is_over_the_last_window_games():
    log = [game(10 * i, r) for i, r in enumerate([-21, -21, 15, 19, 21, 21])]
    index, mean = first_solving_game(log, 17, window=3)
    assert index == 4 and mean == pytest.approx((15 + 19 + 21) / 3)  # game 3's mean, 13/3, was short
    index, best = first_solving_game(log, 21, window=3)
    assert index is None and best == pytest.approx((19 + 21 + 21) / 3)


def test_a_killed_segment_counts_to_its_last_line_and_the_solving_game_ends_the_clock():
    journal = [
        {"event": "start", "step": 0, "time": 1000.0},
        {"event": "checkpoint", "step": 300, "time": 1030.0},
        {"event": "progress", "step": 450, "time": 1045.0},  # then killed: 150 steps played again
        {"event": "start", "step": 300, "time": 1100.0},
        {"event": "end", "step": 900, "time": 1160.0, "reason": "SIGTERM"},
        {"event": "start", "step": 900, "time": 1200.0},
        {"event": "end", "step": 2000, "time": 1310.0, "reason": "done"},
    ]
    segments = segments_of(journal)
    assert [(s.start_step, s.last_step, s.ended_by) for s in segments] == [(0, 450, None), (300, 900, "SIGTERM"),
                                                                          (900, 2000, "done")]
    log = [game(200, -21, 1020.0), game(600, 18, 1130.0), game(1000, 20, 1210.0)]
    solved = solve_time(log, journal, 17, window=2)
    assert solved.solved and solved.step == 1000 and solved.games == 3
    assert solved.seconds == 45.0 + 60.0 + 10.0 and solved.estimated  # the first segment's end is a lower bound
    not_yet = solve_time(log, journal, 20, window=2)
    # Not solved: the clock runs to the last game's end (step 1,000 at 1,210 s), so steps/s stay true.
    assert not not_yet.solved and not_yet.seconds == 45.0 + 60.0 + 10.0 and not_yet.step == 1000


def test_the_segment_that_played_a_game_is_found_by_time_after_a_fallback_to_an_older_checkpoint():
    journal = [
        {"event": "start", "step": 0, "time": 0.0}, {"event": "end", "step": 2000, "time": 200.0, "reason": "done"},
        {"event": "start", "step": 2000, "time": 300.0},  # its checkpoint is later found damaged
        {"event": "progress", "step": 2500, "time": 350.0},
        {"event": "start", "step": 1000, "time": 400.0},  # fell back to the checkpoint at 1,000
        {"event": "end", "step": 3000, "time": 600.0, "reason": "done"},
    ]
    log = [game(500, -21, 50.0), game(1500, 20, 450.0)]  # the second game was played by the last segment
    solved = solve_time(log, journal, 0, window=1)
    assert solved.solved and solved.games == 2 and solved.seconds == 200.0 + 50.0 + 50.0 and solved.estimated
