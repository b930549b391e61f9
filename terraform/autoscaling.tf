# Worker autoscaling on the task queue.
#
# The orchestrator reads the queue from the database each minute and
# writes it to its log as Embedded Metric Format lines
# (IPRS_METRICS_NAMESPACE, package internal/queuemetric); CloudWatch Logs
# turns them into metrics in local.metrics_namespace, dimension
# Service = orchestrator:
#
#   QueueDepth           open tasks (QUEUED + RUNNING)
#   OldestQueuedTaskAge  seconds the longest-waiting claimable task has waited
#
# Idle workers claim a task within about a second, so a task that waits
# longer than worker_scale_out_wait_seconds means every worker is busy:
# the workers double (at least one more) each minute that lasts, up to
# worker_max_count. Once no task has been open for
# worker_scale_in_idle_minutes, they go back to worker_min_count; a worker
# that is stopped finishes or releases what it holds (IPRS_WORKER_GRACE_SECONDS).
# The metrics come from the orchestrator, not the workers, so scaling out
# from zero workers works. docs/scaling.md explains the choice.

locals {
  # Dimension of the queue metrics: the service that publishes them.
  queue_metric_dimensions = { Service = "orchestrator" }
}

# The worker service's count. Without worker_autoscaling it is pinned at
# worker_desired_count (minimum = maximum), which is also how a change of
# that variable reaches the service.
resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.worker_autoscaling ? var.worker_min_count : var.worker_desired_count
  max_capacity       = var.worker_autoscaling ? var.worker_max_count : var.worker_desired_count

  lifecycle {
    precondition {
      condition     = !var.worker_autoscaling || var.worker_min_count <= var.worker_max_count
      error_message = "worker_min_count must not exceed worker_max_count."
    }
  }
}

# Scale out: double the workers (at least one more) while tasks wait.
resource "aws_appautoscaling_policy" "worker_scale_out" {
  count = var.worker_autoscaling ? 1 : 0

  name               = "${local.name_prefix}-worker-scale-out"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type          = "PercentChangeInCapacity"
    min_adjustment_magnitude = 1
    cooldown                 = 60
    metric_aggregation_type  = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 100
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_backlog" {
  count = var.worker_autoscaling ? 1 : 0

  alarm_name          = "${local.name_prefix}-worker-backlog"
  alarm_description   = "Tasks wait for a worker: every worker is busy. Scales the workers out."
  namespace           = local.metrics_namespace
  metric_name         = "OldestQueuedTaskAge"
  dimensions          = local.queue_metric_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.worker_scale_out_wait_seconds
  # No figure (the orchestrator or the database is down) is no reason to
  # add workers.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_appautoscaling_policy.worker_scale_out[0].arn]
}

# Scale in: back to worker_min_count once the queue has stayed empty.
resource "aws_appautoscaling_policy" "worker_scale_in" {
  count = var.worker_autoscaling ? 1 : 0

  name               = "${local.name_prefix}-worker-scale-in"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 300
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = var.worker_min_count
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_idle" {
  count = var.worker_autoscaling ? 1 : 0

  alarm_name          = "${local.name_prefix}-worker-idle"
  alarm_description   = "No task has been open for a while. Scales the workers back to their minimum."
  namespace           = local.metrics_namespace
  metric_name         = "QueueDepth"
  dimensions          = local.queue_metric_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.worker_scale_in_idle_minutes
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  # Missing minutes neither prove nor disprove an empty queue.
  treat_missing_data = "missing"
  alarm_actions      = [aws_appautoscaling_policy.worker_scale_in[0].arn]
}
