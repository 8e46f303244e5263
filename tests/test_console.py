"""console.meter off a terminal: plain lines at every `every`-th unit and at the end, each with its postfix; silent
when disabled."""

from tokbench.console import meter


def test_meter_plain_lines(capsys):
    with meter("job:", 25, unit="shards done") as m:
        for _ in range(25):
            m.advance()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"job: {n}/25 shards done" for n in (*range(2, 25, 2), 25)]

    with meter("train step", 30, 5, every=10) as m:
        for step in range(6, 31):
            m.update(step, f"loss {step / 10:.1f}")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["train step 10/30", "train step 20/30", "train step 30/30"]
    assert lines[-1].endswith("s)  loss 3.0")

    with meter("quiet", 3, enabled=False) as m:
        m.advance(3)
    assert capsys.readouterr().err == ""
