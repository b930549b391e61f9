# IPRS on AWS: root configuration, provider and the service table.
#
# The resources live in vpc.tf (network and security groups), rds.tf (Aurora,
# RDS Proxy, Secrets Manager), ecs.tf (cluster, tasks, services, load
# balancer, IAM, logs) and ecr.tf (image repositories).

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }

  # Local state by default. For a team, keep state in S3 with DynamoDB
  # locking (see README.md, "State management"):
  #
  # backend "s3" {
  #   bucket         = "iprs-terraform-state"
  #   key            = "iprs/dev/terraform.tfstate"
  #   region         = "us-east-1"
  #   dynamodb_table = "iprs-terraform-locks"
  #   encrypt        = true
  # }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project_name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

locals {
  # Prefix of every named resource: "iprs-dev".
  name_prefix = "${var.project_name}-${var.environment}"

  # Path every service answers for the target-group health check.
  health_path = "/health"

  # Port PostgreSQL (Aurora and RDS Proxy) listens on.
  db_port = 5432

  # The four services, as in internal/service: the port each listens on
  # under `iprs serve <name>`, the path pattern the load balancer routes to
  # it and the priority of its listener rule. The worker serves only health
  # and metrics, so nothing routes to it. The Go tests in internal/deploy
  # check this table and every resource built from it against the code.
  services = {
    marketdata = {
      port          = 8001
      public        = true
      route_pattern = "/mkt/*"
      rule_priority = 100
    }
    orchestrator = {
      port          = 8002
      public        = true
      route_pattern = "/orch/*"
      rule_priority = 200
    }
    results = {
      port          = 8003
      public        = true
      route_pattern = "/results/*"
      rule_priority = 300
    }
    worker = {
      port          = 8004
      public        = false
      route_pattern = null
      rule_priority = null
    }
  }

  # Paths the load balancer also sends to results: the analyst's dashboard
  # (/ui, which redirects into it, and everything under /ui/) and the API
  # description. "/" redirects to the dashboard. As internal/service says.
  results_extra_patterns = ["/ui", "/ui/*", "/openapi.json"]
  ui_rule_priority       = 310
  ui_path                = "/ui/"
  root_rule_priority     = 50

  # The services the load balancer routes to.
  public_services = { for name, svc in local.services : name => svc if svc.public }

  # Number of NAT gateways: one shared by all private subnets (cheap), or
  # one per availability zone (survives the loss of a zone).
  nat_gateway_count = var.nat_gateway_per_az ? length(var.availability_zones) : 1

  # CloudWatch namespace of the task queue's metrics, which the
  # orchestrator writes as Embedded Metric Format log lines
  # (IPRS_METRICS_NAMESPACE) and the worker autoscaling alarms read: one per
  # deployment, so that two environments in one account never mix.
  metrics_namespace = "IPRS/${local.name_prefix}"

  # The environment of each service's container: the settings of
  # internal/config that the service reads, from the variables. The
  # secrets (DATABASE_URL, IPRS_API_TOKENS) come through `secrets` below;
  # IPRS_ADDR stays unset, so that each service listens on its own port,
  # the one of its port mapping. The Go tests in internal/deploy check each
  # value against internal/config.
  environment_common = {
    IPRS_LOG_LEVEL    = var.log_level
    IPRS_LOG_FORMAT   = "json"
    IPRS_DB_MAX_CONNS = tostring(var.db_max_conns)
  }
  environment_api = {
    IPRS_MAX_BODY_BYTES = var.max_body_bytes
  }
  environment = {
    marketdata = merge(local.environment_common, local.environment_api)
    orchestrator = merge(local.environment_common, local.environment_api, {
      IPRS_FOUR_EYES          = tostring(var.four_eyes)
      IPRS_WEBHOOK_ALLOW_HTTP = tostring(var.webhook_allow_http)
      IPRS_MAX_UPLOAD_BYTES   = var.max_upload_bytes
      IPRS_BODY_IDLE_SECONDS  = tostring(var.body_idle_seconds)
      IPRS_METRICS_NAMESPACE  = local.metrics_namespace
    })
    results = merge(local.environment_common, local.environment_api)
    worker = merge(local.environment_common, {
      IPRS_WORKER_CONCURRENCY   = tostring(var.worker_concurrency)
      IPRS_LEASE_SECONDS        = tostring(var.lease_seconds)
      IPRS_WORKER_GRACE_SECONDS = tostring(var.worker_grace_seconds)
      IPRS_AGGREGATE_ATTRS      = var.aggregate_attrs
    })
  }

  # Secrets every service container receives through the task definition's
  # `secrets`, read by the ECS agent from Secrets Manager at task start.
  container_secrets = concat(
    [
      {
        name      = "DATABASE_URL"
        valueFrom = aws_secretsmanager_secret.database_url.arn
      },
    ],
    var.api_tokens == "" ? [] : [
      {
        name      = "IPRS_API_TOKENS"
        valueFrom = aws_secretsmanager_secret.api_tokens[0].arn
      },
    ],
  )
}
