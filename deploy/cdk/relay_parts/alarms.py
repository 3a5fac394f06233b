"""The relay's alarms, each to the alarm topic: dead letters, a queue falling behind, a traffic spike, and
function errors."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from .context import RelayContext
from .queue import RelayQueue


@dataclass(frozen=True)
class AlarmRule:
    """One alarm: above `threshold` for `evaluation_periods` periods in a row; no data is no alarm."""

    construct_id: str
    description: str
    metric: cloudwatch.IMetric
    threshold: float
    evaluation_periods: int = 1


def alarm_rules(settings: RelayContext, queue: RelayQueue, function: lambda_.IFunction) -> list[AlarmRule]:
    minute, five_minutes = Duration.minutes(1), Duration.minutes(5)
    return [
        AlarmRule(
            "DeadLettersAlarm",
            "Relay mail reached the dead-letter queue (sesflow relay dlq redrive)",
            queue.dlq.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
            settings.dlq_alarm_threshold,
        ),
        AlarmRule(
            "OldestMessageAlarm",
            "Mail waits in the relay queue longer than expected",
            queue.queue.metric_approximate_age_of_oldest_message(period=minute, statistic="Maximum"),
            settings.oldest_message_alarm_seconds,
            evaluation_periods=3,
        ),
        AlarmRule(
            "TrafficSpikeAlarm",
            "More mail arrived in five minutes than the devices normally send",
            queue.queue.metric_number_of_messages_sent(period=five_minutes, statistic="Sum"),
            settings.received_alarm_threshold,
        ),
        AlarmRule(
            "FunctionErrorsAlarm",
            "The relay function crashed or timed out",
            function.metric_errors(period=five_minutes, statistic="Sum"),
            0,
        ),
    ]


def add_alarms(stack: Stack, rules: list[AlarmRule], topic: sns.ITopic) -> list[cloudwatch.Alarm]:
    action = cw_actions.SnsAction(topic)
    alarms = []
    for rule in rules:
        alarm = cloudwatch.Alarm(
            stack,
            rule.construct_id,
            alarm_description=rule.description,
            metric=rule.metric,
            threshold=rule.threshold,
            evaluation_periods=rule.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        alarms.append(alarm)
    return alarms
