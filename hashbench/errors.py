"""The one exception type users see as a single line, never a traceback."""


class HashbenchError(Exception):
    """A problem with the user's input or environment: the message says what and what to do.

    The CLI prints ``hashbench: error: <message>`` and exits with status 2. Raise it for
    anything a user can fix (a wrong name, a missing or corrupt file, an impossible setting);
    let genuine bugs raise their own exceptions.
    """


class DataNotFound(HashbenchError):
    """A named data set's files are nowhere the user pointed to.

    Kept apart so that a grid over several data sets (``hashbench reproduce``) can skip the
    ones a user does not have while still stopping on data that is present but broken.
    """


class TrainingDiverged(HashbenchError):
    """A run's loss went non-finite or exploded: the run failed and leaves no record.

    Kept apart so that a grid can go on with its other runs and list the failed ones at the end.
    """


class RunsFailed(HashbenchError):
    """Some runs of a grid failed (their lines are the message); the others have records."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__(f"{len(failures)} run(s) failed, without records:\n" + "\n".join(failures))
