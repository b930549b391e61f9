# Compute: the ECS Fargate cluster, one task definition and one service per
# IPRS service, the one-off migration task, their IAM roles and logs, and
# the application load balancer that routes by path prefix.

data "aws_caller_identity" "current" {}

locals {
  # Body of the load balancer's answer to a path no service owns.
  not_found_body = jsonencode({
    type   = "about:blank"
    title  = "Not Found"
    status = 404
    detail = "No IPRS service is routed at this path."
  })

  # Logging of every container: one CloudWatch group, one stream prefix per
  # service ("marketdata/marketdata/<task id>").
  log_options = {
    awslogs-group  = aws_cloudwatch_log_group.ecs.name
    awslogs-region = var.aws_region
  }

  # The containers' root filesystem is read-only; /tmp is task storage.
  tmp_mount = [
    {
      sourceVolume  = "tmp"
      containerPath = "/tmp"
      readOnly      = false
    },
  ]
}

resource "aws_cloudwatch_log_group" "ecs" {
  name              = "/ecs/${local.name_prefix}"
  retention_in_days = var.log_retention_days
}

# --- IAM ----------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# The execution role is what the ECS agent uses to start a task: pull the
# service images, write the log streams and read the secrets the task
# definitions name. Nothing more.
data "aws_iam_policy_document" "ecs_execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [for repo in aws_ecr_repository.service : repo.arn]
  }

  statement {
    sid = "Logs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.ecs.arn}:*"]
  }

  statement {
    sid     = "Secrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = concat(
      [aws_secretsmanager_secret.database_url.arn],
      aws_secretsmanager_secret.api_tokens[*].arn,
    )
  }
}

resource "aws_iam_role" "ecs_execution" {
  name               = "${local.name_prefix}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "ecs_execution" {
  name   = "pull-log-read-secrets"
  role   = aws_iam_role.ecs_execution.id
  policy = data.aws_iam_policy_document.ecs_execution.json
}

# The role the IPRS processes run as. They call no AWS API (the database
# URL arrives as an environment variable injected by the agent), so it has
# no permissions at all.
resource "aws_iam_role" "ecs_task" {
  name               = "${local.name_prefix}-ecs-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# --- Cluster --------------------------------------------------------------------

resource "aws_ecs_cluster" "main" {
  name = local.name_prefix

  setting {
    name  = "containerInsights"
    value = var.enable_container_insights ? "enabled" : "disabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- Task definitions -------------------------------------------------------------

# One per service: the service's image runs `iprs serve <service>`, listens
# on the service's port, reads DATABASE_URL (and IPRS_API_TOKENS when set)
# from Secrets Manager through `secrets` and its settings from its
# environment (local.environment). Workers have their own size.
resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${local.name_prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.public ? var.service_cpu : var.worker_cpu
  memory                   = each.value.public ? var.service_memory : var.worker_memory
  execution_role_arn       = aws_iam_role.ecs_execution.arn
  task_role_arn            = aws_iam_role.ecs_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task storage for /tmp: the root filesystem is read-only.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name      = each.key
      image     = "${aws_ecr_repository.service[each.key].repository_url}:${var.image_tag}"
      essential = true
      command   = ["serve", each.key]
      portMappings = [
        {
          name          = each.key
          containerPort = each.value.port
          protocol      = "tcp"
        },
      ]
      environment            = [for name, value in local.environment[each.key] : { name = name, value = value }]
      secrets                = local.container_secrets
      readonlyRootFilesystem = true
      mountPoints            = local.tmp_mount
      # On SIGTERM a worker finishes or releases its task; give it the
      # longest grace Fargate allows.
      stopTimeout = each.value.public ? 30 : 120
      logConfiguration = {
        logDriver = "awslogs"
        options   = merge(local.log_options, { awslogs-stream-prefix = each.key })
      }
    },
  ])

  lifecycle {
    precondition {
      condition     = !var.four_eyes || var.api_tokens != ""
      error_message = "four_eyes needs api_tokens: a principal that may write and another that may publish."
    }
  }
}

# The one-off migration task: `iprs migrate` applies the schema through the
# RDS Proxy from inside the VPC. Start it with `make migrate-aws` or the
# `aws ecs run-task` command of the migrate_command output.
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${local.name_prefix}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.service_cpu
  memory                   = var.service_memory
  execution_role_arn       = aws_iam_role.ecs_execution.arn
  task_role_arn            = aws_iam_role.ecs_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name      = "migrate"
      image     = "${aws_ecr_repository.service["orchestrator"].repository_url}:${var.image_tag}"
      essential = true
      command   = ["migrate"]
      secrets = [
        {
          name      = "DATABASE_URL"
          valueFrom = aws_secretsmanager_secret.database_url.arn
        },
      ]
      readonlyRootFilesystem = true
      mountPoints            = local.tmp_mount
      logConfiguration = {
        logDriver = "awslogs"
        options   = merge(local.log_options, { awslogs-stream-prefix = "migrate" })
      }
    },
  ])
}

# --- Services ---------------------------------------------------------------------

# The API services, each behind its target group.
resource "aws_ecs_service" "api" {
  for_each = local.public_services

  name                               = each.key
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.service[each.key].arn
  desired_count                      = var.service_desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.service[each.key].arn
    container_name   = each.key
    container_port   = each.value.port
  }

  depends_on = [
    aws_lb_listener_rule.service,
    aws_iam_role_policy.ecs_execution,
  ]
}

# The worker serves no API, so no target group: it claims tasks from the
# database, and any number may run. The service starts with
# worker_desired_count tasks; from then on its count belongs to the
# scalable target of autoscaling.tf (held at worker_desired_count, or
# scaled on the task queue with worker_autoscaling), so Terraform does not
# put it back on every apply.
resource "aws_ecs_service" "worker" {
  name                               = "worker"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.service["worker"].arn
  desired_count                      = var.worker_desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = false
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_iam_role_policy.ecs_execution]
}

# --- Load balancer ------------------------------------------------------------------

resource "aws_lb" "main" {
  name                       = "${local.name_prefix}-alb"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  # CSV exports stream for a while; keep idle connections open longer than
  # the default 60 s.
  idle_timeout = 120
}

# One target group per API service, on the service's port, checked at the
# health path every service answers.
resource "aws_lb_target_group" "service" {
  for_each = local.public_services

  name                 = "${local.name_prefix}-${each.key}"
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = local.health_path
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# Port 80: the routes themselves, or with enable_https a redirect to 443.
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = var.enable_https ? "redirect" : "fixed-response"

    dynamic "redirect" {
      for_each = var.enable_https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }

    dynamic "fixed_response" {
      for_each = var.enable_https ? [] : [1]
      content {
        content_type = "application/json"
        status_code  = "404"
        message_body = local.not_found_body
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count = var.enable_https ? 1 : 0

  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.acm_certificate_arn

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = local.not_found_body
    }
  }

  lifecycle {
    precondition {
      condition     = var.acm_certificate_arn != ""
      error_message = "enable_https needs acm_certificate_arn."
    }
  }
}

# Path routing: /mkt/* to marketdata, /orch/* to orchestrator, /results/* to
# results, with the path forwarded unchanged.
resource "aws_lb_listener_rule" "service" {
  for_each = local.public_services

  listener_arn = var.enable_https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = each.value.rule_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service[each.key].arn
  }

  condition {
    path_pattern {
      values = [each.value.route_pattern]
    }
  }
}

# The dashboard and the API description, served by results.
resource "aws_lb_listener_rule" "results_extra" {
  listener_arn = var.enable_https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = local.ui_rule_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service["results"].arn
  }

  condition {
    path_pattern {
      values = local.results_extra_patterns
    }
  }
}

# "/" opens the dashboard (on the same host, port, protocol and query).
resource "aws_lb_listener_rule" "root" {
  listener_arn = var.enable_https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = local.root_rule_priority

  action {
    type = "redirect"

    redirect {
      path        = local.ui_path
      status_code = "HTTP_302"
    }
  }

  condition {
    path_pattern {
      values = ["/"]
    }
  }
}
