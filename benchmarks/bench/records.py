"""What the benchmark measures and what it concludes, as records: the harness fills them, the
report reads them, ``dataclasses.asdict`` writes them to the JSON results file."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


class Phase:
    """The phases of a run, between which the reference kernels are timed
    (``CalibrationRound``). A repeat's phases are named ``repeat <i>: <phase>``
    (``Phase.of``)."""

    COLD = "cold dvc repro"
    DVC = "no-op dvc repro, dvc status, evaluate@nearest"
    SVM_FIT = "svm_fit"
    NOTEBOOKS = "notebook methods"
    EXP_RUNS = "dvc exp run"
    IMPORT_PROFILE = "import profile"
    FEATURE_EXPERIMENTS = "feature experiments"

    @staticmethod
    def of(index: int, phase: str) -> str:
        """The name of ``phase`` in repeat ``index`` (counted from 1)."""
        return f"repeat {index}: {phase}"


def median(values: list[float]) -> float:
    """The median, rounded to milliseconds; NaN for no values."""
    return round(statistics.median(values), 3) if values else float("nan")


@dataclass
class StageRun:
    """One stage's process in a dvc command: the wrapper's ``os.wait4`` figures, and the seconds
    ``run_stage`` timed around the stage's work (None if the stage did not report them)."""

    argv: list[str]
    wall: float
    cpu: float
    peak_rss_mb: float
    exit: int
    work: float | None = None

    @property
    def overhead(self) -> float | None:
        """Wall seconds outside the work: interpreter start-up, imports, arguments, exit."""
        return None if self.work is None else round(self.wall - self.work, 3)


@dataclass
class DvcRun:
    """One timed dvc command and the stages it ran."""

    args: list[str]
    wall: float
    stages: dict[str, StageRun]
    ran: list[str]
    load_before: list[float]
    load_after: list[float]

    @property
    def stage_process_total(self) -> float:
        return round(sum(s.wall for s in self.stages.values()), 3)

    @property
    def stage_cpu_total(self) -> float:
        """CPU seconds of the stages' processes, summed."""
        return round(sum(s.cpu for s in self.stages.values()), 3)

    @property
    def dvc_overhead(self) -> float:
        """Wall seconds in dvc itself: start-up, hashing, caching, dvc.lock, git."""
        return round(self.wall - self.stage_process_total, 3)


@dataclass
class Scores:
    """A model's accuracy on each split it was scored on (cv: the cross-validation mean)."""

    val: float | None = None
    test: float | None = None
    cv: float | None = None


@dataclass
class ColdRun:
    """The cold ``dvc repro``: ``core`` the models' pipeline, ``rest`` the other stages."""

    core: DvcRun
    rest: DvcRun | None
    metrics: dict[str, Scores]
    metrics_sha256: str
    gd_4_loss_195: float | None = None

    @property
    def wall(self) -> float:
        return round(self.core.wall + (self.rest.wall if self.rest else 0.0), 3)

    @property
    def stages(self) -> dict[str, StageRun]:
        return {**self.core.stages, **(self.rest.stages if self.rest else {})}

    @property
    def stage_cpu_total(self) -> float:
        """CPU seconds of the stages' processes, summed."""
        return round(sum(s.cpu for s in self.stages.values()), 3)

    @property
    def stage_process_total(self) -> float:
        return round(sum(s.wall for s in self.stages.values()), 3)

    @property
    def dvc_overhead(self) -> float:
        return round(self.wall - self.stage_process_total, 3)


@dataclass
class NearestPair:
    """``evaluate@nearest``'s command and the bare float32 product it needs, run back to back."""

    stage_wall: float
    stage_peak_rss_mb: float
    bare_seconds: float

    @property
    def ratio(self) -> float:
        return round(self.stage_wall / self.bare_seconds, 3)


@dataclass
class KernelRun:
    """One micro-benchmark in a fresh interpreter: the seconds it timed around its work, and
    what it found (accuracy per split; for a loop timed on ``samples`` and extrapolated, the
    extrapolated seconds). The harness adds the process's own wall time and peak RSS."""

    seconds: float
    accuracy: dict[str, float] = field(default_factory=dict)
    samples: int | None = None
    extrapolated_to: int | None = None
    extrapolated_seconds: float | None = None
    loss_195: float | None = None
    predict_seconds: float | None = None
    """For a fit-and-predict kernel (``svm_fit``): the seconds of the prediction alone."""
    predictions_sha256: str | None = None
    """For a fit-and-predict kernel: SHA-256 of the test predictions (int64), to compare two
    estimators' predictions without writing them."""
    estimator: str | None = None
    """For a fit-and-predict kernel: the estimator fitted, as its repr."""
    process_wall: float | None = None
    peak_rss_mb: float | None = None


@dataclass
class Calibration:
    """A fixed reference kernel, timed on this machine in this run: every sample's seconds."""

    kernel: str
    description: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return median(self.seconds)


@dataclass
class CalibrationRound:
    """The reference kernels timed at one boundary of a run, in one fresh interpreter: after
    phase ``after`` (None at the run's start) and before phase ``before`` (None at its end).
    A phase's timings are divided by the kernels of the rounds on either side of it."""

    after: str | None
    before: str | None
    at: float
    """Seconds since the run started, when the round began."""
    load: list[float]
    """The load average (1, 5, 15 min) when the round began."""
    kernels: list[Calibration]

    def seconds(self, kernel: str) -> float | None:
        """The median seconds of ``kernel`` in this round (None if it was not timed)."""
        found = [c for c in self.kernels if c.kernel == kernel]
        return statistics.median(found[0].seconds) if found and found[0].seconds else None


@dataclass
class ImportCost:
    module: str
    cumulative: float
    """Seconds to import the module and everything it imported first."""


@dataclass
class ImportProfile:
    """``python -X importtime`` of one stage's command: every module it imports, at start-up
    and in its work."""

    stage: str
    command: list[str]
    total: float
    """Seconds of all imports, the sum of each module's own time."""
    top: list[ImportCost]


@dataclass
class SvmFitRound:
    """One round of the ``svm_fit`` phase: today's SVC and the pipeline's estimator for the same
    model, each fitted and predicting in a fresh interpreter, back to back; ``order`` says
    which ran first (the order alternates between rounds)."""

    model: str
    """The params.yaml model both fitted (``models.<model>``)."""
    order: list[str]
    today: KernelRun
    pipeline: KernelRun

    @property
    def fit_ratio(self) -> float:
        """The pipeline's fit seconds over today's."""
        return round(self.pipeline.seconds / self.today.seconds, 3)

    @property
    def predict_ratio(self) -> float | None:
        """The pipeline's prediction seconds over today's (None if either is missing)."""
        if not self.pipeline.predict_seconds or not self.today.predict_seconds:
            return None
        return round(self.pipeline.predict_seconds / self.today.predict_seconds, 3)

    @property
    def identical(self) -> bool:
        """Whether both made the same test predictions."""
        digest = self.today.predictions_sha256
        return digest is not None and digest == self.pipeline.predictions_sha256


@dataclass
class Repeat:
    """One repeat: a fresh copy of the project, and every measurement made in it."""

    index: int
    cold: ColdRun
    noop_repro: list[float]
    status: list[float]
    nearest_vs_bare: list[NearestPair]
    kernels: dict[str, KernelRun]
    exp_pca40: DvcRun
    import_profile: ImportProfile | None = None
    """The first repeat's: its stage with the most overhead."""
    exp_svm_c5: DvcRun | None = None
    """``dvc exp run -S models.svm.C=5`` from the cold run's state."""
    svm_fit: list[SvmFitRound] = field(default_factory=list)
    """The ``svm_fit`` phase's rounds (none if skipped)."""


@dataclass
class Experiment:
    """``dvc exp run -S <settings>`` from the last repeat's cold run, and every model's
    scores."""

    name: str
    settings: list[str]
    run: DvcRun
    metrics: dict[str, Scores]


@dataclass
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    python: str
    platform: str
    versions: dict[str, str]
    blas: str


@dataclass
class Results:
    """A whole benchmark run: the machine, its calibration, every repeat's raw figures."""

    repeat: int
    started: str
    machine: Machine
    limits: dict[str, float]
    notebooks: dict[str, float]
    """params.yaml ``notebooks``: the test accuracy each notebook reported."""
    notebook_cv: dict[str, float]
    """params.yaml ``notebook_cv``: the cross-validated accuracy a notebook reported."""
    load_before: list[float]
    load_after: list[float]
    calibration: list[CalibrationRound]
    """Every round of the reference kernels, at the start, between phases and at the end."""
    startup: dict[str, float]
    runs: list[Repeat]
    experiments: list[Experiment] = field(default_factory=list)
    separate_models: list[str] = field(default_factory=list)


@dataclass
class Target:
    """A figure the benchmark judges: ``value`` (seconds, MB or a ratio) against ``limit``,
    with its raw ``seconds`` and its ``ratio`` to ``ratio_to`` (the pipeline's own part or a
    reference kernel it is compared with in the same run)."""

    key: str
    label: str
    value: float
    limit: float
    unit: str
    seconds: float | None = None
    ratio: float | None = None
    ratio_to: str = ""

    @property
    def met(self) -> bool:
        return bool(self.value <= self.limit)


@dataclass
class StageSummary:
    """A stage's medians over the repeats."""

    wall: float
    cpu: float
    peak_rss_mb: float
    work: float | None = None

    @property
    def overhead(self) -> float | None:
        return None if self.work is None else round(self.wall - self.work, 3)


@dataclass
class SvmFitSummary:
    """The ``svm_fit`` phase over every round: medians of the per-round ratios and seconds."""

    model: str
    today: str
    pipeline: str
    """The estimators, as their reprs (the first round's)."""
    rounds: int
    fit_ratio: float
    predict_ratio: float | None
    today_fit: float
    pipeline_fit: float
    today_predict: float | None
    pipeline_predict: float | None
    today_accuracy: float
    """The lowest test accuracy of today's SVC over the rounds."""
    pipeline_accuracy: float
    """The lowest test accuracy of the pipeline's estimator over the rounds."""
    identical: bool
    """Whether the predictions were identical in every round."""


@dataclass
class Summary:
    """What the report shows: medians over the repeats, targets, checks and ratios."""

    calibration: dict[str, float]
    """Each reference kernel's median seconds over every round of the run."""
    targets: list[Target]
    checks: dict[str, bool]
    stages: dict[str, StageSummary]
    model_pipeline_stages: list[str]
    cold_seconds: float
    cold_stage_process_seconds: float
    cold_dvc_overhead_seconds: float
    cold_stage_overhead_seconds: float | None
    """The sum over the stages of wall less work: start-up and imports, not dvc's time."""
    timings: dict[str, float]
    """The main timings' raw seconds (medians)."""
    in_reference_units: dict[str, dict[str, float]]
    """Each of ``timings`` over each reference kernel, as timed around the phase it was
    measured in (``references``): the median over the repeats of the per-repeat ratios."""
    exp_pca40_stages: list[str]
    exp_svm_c5_stages: list[str]
    kernels: dict[str, KernelRun]
    ratios: dict[str, float]
    metrics: dict[str, Scores]
    experiments: dict[str, dict[str, Scores | None]] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each phase's reference seconds per kernel: the mean of the rounds on either side."""
    kernel_units: dict[str, float] = field(default_factory=dict)
    """Each micro-benchmark over its reference kernel (``gemm`` or ``python_loop``) as timed
    around the notebook methods' phase: the median over the repeats."""
    svm_fit: SvmFitSummary | None = None
    cold_cpu_seconds: float | None = None
    """The CPU seconds of the cold run's stage processes, summed (median over the repeats)."""
    cold_cpu_units: dict[str, float] = field(default_factory=dict)
    """``cold_cpu_seconds`` over each reference kernel's fastest sample of the run: the
    pipeline's cost in kernel units, the figure that holds when load comes and goes."""
    exp_cpu_shares: dict[str, float] = field(default_factory=dict)
    """Each ``dvc exp run``'s stages' CPU seconds over the cold run's (median over the
    repeats): the share of the pipeline's work an experiment reruns, whatever the load."""
