"""Hyper-parameter search on a time-ordered validation inside the training days.

`TimeOrderedSplit` is Spark's TrainValidationSplit with one change: the validation rows are those
of the last days of the training data (by a date column) instead of a random share, so no
candidate is ever fitted on a day later than the days it is scored on, and the test days are
never seen. It fits every parameter map on the earlier days, scores it on the validation days
with the evaluator, and refits the best map on all the training days. mlflow.pyspark.ml.autolog
takes it for the TrainValidationSplit it is: a child run per parameter map with its validation
metric, `search_results.csv`, and the best map as `best_*` params of the parent run.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from pyspark.ml.evaluation import Evaluator
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit, TrainValidationSplitModel

from fraud_jobs import metrics
from fraud_jobs.common import log


class AveragePrecisionEvaluator(Evaluator):
    """Average precision of P(fraud) (fraud_jobs.metrics.average_precision), larger is better."""

    def __init__(self, probability_col: str = "probability"):
        super().__init__()
        self.probability_col = probability_col

    def _evaluate(self, dataset) -> float:
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        scored = dataset.select(F.col("label"),
                                vector_to_array(self.probability_col)[1].alias("score"))
        return metrics.average_precision(scored)

    def isLargerBetter(self) -> bool:
        return True

    def getMetricName(self) -> str:  # the metric's name in the autologged runs
        return "average_precision"


class TimeOrderedSplit(TrainValidationSplit):
    """TrainValidationSplit validated on the rows whose `date_col` is in `validation_dates`."""

    def __init__(self, *, date_col: str, validation_dates: Sequence[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.date_col = date_col
        self.validation_dates = list(validation_dates)

    def _fit(self, dataset) -> TrainValidationSplitModel:
        from pyspark.sql import functions as F

        estimator = self.getEstimator()
        param_maps = self.getEstimatorParamMaps()
        evaluator = self.getEvaluator()
        in_validation = F.col(self.date_col).isin(self.validation_dates)
        fit_rows = dataset.where(~in_validation).cache()
        validation = dataset.where(in_validation).cache()
        scores: list[float] = []
        best_model = None
        for i, params in enumerate(param_maps):
            model = estimator.fit(fit_rows, params)
            score = evaluator.evaluate(model.transform(validation, params))
            log(f"search {i + 1}/{len(param_maps)}: {describe(params)} -> "
                f"validation {evaluator.getMetricName()} {score:.4f}")
            better = (not scores or (score > max(scores) if evaluator.isLargerBetter()
                                     else score < min(scores)))
            if better:
                best_model = model
            scores.append(score)
        fit_rows.unpersist()
        validation.unpersist()
        best = scores.index(max(scores) if evaluator.isLargerBetter() else min(scores))
        result = self._copyValues(TrainValidationSplitModel(
            estimator.fit(dataset, param_maps[best]), scores))
        # the best candidate as fitted without the validation days: what the decision threshold
        # is chosen with (the refit model has seen those days)
        result.validation_model = best_model
        result.best_index = best
        return result


def describe(params: Mapping) -> str:
    return ", ".join(f"{p.name}={v!r}" for p, v in sorted(params.items(), key=lambda kv: kv[0].name))


def param_grid(classifier, values: Mapping[str, Sequence[Any]]) -> list[dict]:
    """Every combination of `values` ({Spark param name: values}) for the classifier's params."""
    builder = ParamGridBuilder()
    for name, options in values.items():
        builder = builder.addGrid(classifier.getParam(name), list(options))
    return builder.build()
