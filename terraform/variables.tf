# Input variables. Only db_master_password is required; everything else has
# a default fit for a development environment. The production settings
# (HTTPS, deletion protection, a NAT gateway per zone, VPC flow logs) are
# off by default and listed under "Production" in README.md.

# --- General ---------------------------------------------------------------

variable "aws_region" {
  description = "AWS region for all resources."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "Environment name (dev, staging, prod); part of every resource name."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,9}$", var.environment))
    error_message = "environment must be 1-10 lowercase letters, digits or hyphens, starting with a letter (load balancer names are at most 32 characters)."
  }
}

variable "project_name" {
  description = "Project name; prefix of every resource name and of the ECR repositories."
  type        = string
  default     = "iprs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,7}$", var.project_name))
    error_message = "project_name must be 1-8 lowercase letters, digits or hyphens, starting with a letter (load balancer names are at most 32 characters)."
  }
}

# --- Network ---------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC. Subnets are /24s carved from it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("/([0-9]|1[0-9]|20)$", var.vpc_cidr))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of size /20 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zones for the multi-AZ deployment: one public and one private subnet in each."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "availability_zones must list between 2 and 6 zones (Aurora and the load balancer need at least 2)."
  }
}

variable "nat_gateway_per_az" {
  description = "Run one NAT gateway per availability zone instead of a single shared one (production: survives the loss of a zone; costs one NAT gateway more per zone)."
  type        = bool
  default     = false
}

variable "enable_flow_logs" {
  description = "Record VPC flow logs to CloudWatch Logs."
  type        = bool
  default     = false
}

variable "allowed_ingress_cidrs" {
  description = "CIDR blocks allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- Database --------------------------------------------------------------

variable "db_master_password" {
  description = "Master password of the Aurora cluster (12-128 characters, none of / \" @ or space). Stored in Secrets Manager; never placed in a task definition."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.db_master_password) >= 12 && length(var.db_master_password) <= 128 && !can(regex("[/\"@ ]", var.db_master_password))
    error_message = "db_master_password must be 12-128 characters and must not contain /, \", @ or a space."
  }
}

variable "db_master_username" {
  description = "Master user name of the Aurora cluster; the services connect as this user through the RDS Proxy."
  type        = string
  default     = "iprs_admin"
}

variable "db_name" {
  description = "Name of the database the services use."
  type        = string
  default     = "iprs"
}

variable "db_engine_version" {
  description = "Aurora PostgreSQL engine version (a 15.x release)."
  type        = string
  default     = "15.10"

  validation {
    condition     = startswith(var.db_engine_version, "15.")
    error_message = "db_engine_version must be an Aurora PostgreSQL 15.x version."
  }
}

variable "db_instance_class" {
  description = "Instance class of the Aurora instances."
  type        = string
  default     = "db.t3.medium"
}

variable "db_instance_count" {
  description = "Number of Aurora instances (one writer, the rest readers in other zones)."
  type        = number
  default     = 2
}

variable "db_backup_retention_days" {
  description = "Days Aurora keeps automated backups."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Protect the Aurora cluster and the load balancer from deletion, take a final snapshot on destroy, keep ECR images and give deleted secrets a 30-day recovery window (production)."
  type        = bool
  default     = false
}

# --- Containers ------------------------------------------------------------

variable "image_tag" {
  description = "Tag of the images the services run (as pushed by `make push IMAGE_TAG=...`)."
  type        = string
  default     = "latest"
}

variable "service_cpu" {
  description = "Fargate CPU units of each service task (256 = 0.25 vCPU)."
  type        = number
  default     = 256
}

variable "service_memory" {
  description = "Fargate memory of each service task, in MiB."
  type        = number
  default     = 512
}

variable "service_desired_count" {
  description = "Number of tasks of each API service (marketdata, orchestrator, results)."
  type        = number
  default     = 1
}

variable "worker_desired_count" {
  description = "Number of worker tasks. Workers claim tasks from the database, so any number may run at once. With worker_autoscaling it is only the count the service starts with; the policies then keep the count between worker_min_count and worker_max_count."
  type        = number
  default     = 1
}

variable "worker_cpu" {
  description = "Fargate CPU units of each worker task (256 = 0.25 vCPU). Pricing is CPU-bound; see docs/scaling.md for sizing."
  type        = number
  default     = 256
}

variable "worker_memory" {
  description = "Fargate memory of each worker task, in MiB. A worker holds the positions and results of the tasks in hand (worker_concurrency of them)."
  type        = number
  default     = 512
}

variable "worker_concurrency" {
  description = "Tasks one worker prices at once (IPRS_WORKER_CONCURRENCY). Two overlap one task's pricing with another's database write."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_concurrency >= 1 && var.worker_concurrency <= 1024 && floor(var.worker_concurrency) == var.worker_concurrency
    error_message = "worker_concurrency must be a whole number from 1 to 1024."
  }
}

variable "aggregate_attrs" {
  description = "Comma-separated position attributes the workers' tasks aggregate by, as by product type, for runs whose request declares no execution.aggregate_attrs (IPRS_AGGREGATE_ATTRS): cubes and VaR by them need no scan. At most 8; \"none\" for none."
  type        = string
  default     = "state,loan_program,program,platform,desk"

  validation {
    condition     = var.aggregate_attrs == "none" || (length(split(",", var.aggregate_attrs)) <= 8 && alltrue([for a in split(",", var.aggregate_attrs) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", a))]))
    error_message = "aggregate_attrs must be \"none\" or up to 8 comma-separated attribute names (letters, digits and _, not starting with a digit)."
  }
}

variable "lease_seconds" {
  description = "Task lease of the workers, in seconds (IPRS_LEASE_SECONDS); renewed every third of it. A task whose worker dies is claimed again after at most this long."
  type        = number
  default     = 60

  validation {
    condition     = var.lease_seconds >= 5 && var.lease_seconds <= 3600 && floor(var.lease_seconds) == var.lease_seconds
    error_message = "lease_seconds must be a whole number from 5 to 3600."
  }
}

variable "worker_grace_seconds" {
  description = "How long a stopping worker (a deploy, a scale-in) lets the tasks in hand finish before it releases them (IPRS_WORKER_GRACE_SECONDS). Below the worker container's 120 s stop timeout, so that releasing is never cut short."
  type        = number
  default     = 20

  validation {
    condition     = var.worker_grace_seconds >= 0 && var.worker_grace_seconds <= 100 && floor(var.worker_grace_seconds) == var.worker_grace_seconds
    error_message = "worker_grace_seconds must be a whole number from 0 to 100 (the worker's stop timeout is 120 s)."
  }
}

# --- Worker autoscaling ----------------------------------------------------

variable "worker_autoscaling" {
  description = "Scale the worker service on the task queue, which the orchestrator publishes as CloudWatch metrics (autoscaling.tf). Off: worker_desired_count workers, held there by the scalable target (minimum = maximum)."
  type        = bool
  default     = true
}

variable "worker_min_count" {
  description = "Fewest worker tasks autoscaling keeps. 0 lets an idle deployment run no worker; the first run then waits for a scale-out (a few minutes)."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_min_count >= 0
    error_message = "worker_min_count must not be negative."
  }
}

variable "worker_max_count" {
  description = "Most worker tasks autoscaling starts. Each holds up to db_max_conns connections through the RDS Proxy, and the database's write rate, not the workers, bounds a run beyond a few (docs/scaling.md)."
  type        = number
  default     = 8

  validation {
    condition     = var.worker_max_count >= 1 && var.worker_max_count <= 1000
    error_message = "worker_max_count must be from 1 to 1000."
  }
}

variable "worker_scale_out_wait_seconds" {
  description = "Scale the workers out while the oldest claimable task has waited this long for a worker (the OldestQueuedTaskAge metric, worst minute): idle workers claim within a second, so a longer wait means every worker is busy."
  type        = number
  default     = 30

  validation {
    condition     = var.worker_scale_out_wait_seconds >= 1
    error_message = "worker_scale_out_wait_seconds must be at least 1."
  }
}

variable "worker_scale_in_idle_minutes" {
  description = "Scale the workers back to worker_min_count once no task has been open (QueueDepth 0) for this many consecutive minutes."
  type        = number
  default     = 15

  validation {
    condition     = var.worker_scale_in_idle_minutes >= 1 && var.worker_scale_in_idle_minutes <= 1440 && floor(var.worker_scale_in_idle_minutes) == var.worker_scale_in_idle_minutes
    error_message = "worker_scale_in_idle_minutes must be a whole number from 1 to 1440 (a day)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate tasks, X86_64 or ARM64; the images must be built for it (make images PLATFORM=linux/arm64)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the service logs."
  type        = number
  default     = 30
}

variable "enable_container_insights" {
  description = "Turn on CloudWatch Container Insights for the ECS cluster (extra cost)."
  type        = bool
  default     = false
}

variable "api_tokens" {
  description = "Principals and bearer tokens the services require on every route but health (IPRS_API_TOKENS): comma-separated name:role[+role...]:token entries (roles read, write, publish) or bare tokens. Empty: no authentication. Stored in Secrets Manager."
  type        = string
  default     = ""
  sensitive   = true
}

# --- Service settings (environment of the containers) ----------------------

variable "four_eyes" {
  description = "A run cannot be published by the principal that submitted it (IPRS_FOUR_EYES). Needs api_tokens with a principal that may write and another that may publish."
  type        = bool
  default     = false
}

variable "webhook_allow_http" {
  description = "Accept plain http webhook URLs (IPRS_WEBHOOK_ALLOW_HTTP); otherwise https only."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "Log level of the services (IPRS_LOG_LEVEL): debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "db_max_conns" {
  description = "Connection pool size of each service task (IPRS_DB_MAX_CONNS). The RDS Proxy multiplexes them onto the database; a worker writes with up to worker_concurrency of them at once."
  type        = number
  default     = 10

  validation {
    condition     = var.db_max_conns >= 1 && var.db_max_conns <= 1000 && floor(var.db_max_conns) == var.db_max_conns
    error_message = "db_max_conns must be a whole number from 1 to 1000."
  }
}

variable "max_body_bytes" {
  description = "Request body limit of the API services (IPRS_MAX_BODY_BYTES), as 16MiB or a number of bytes."
  type        = string
  default     = "16MiB"
}

variable "max_upload_bytes" {
  description = "Body limit of position snapshot uploads (IPRS_MAX_UPLOAD_BYTES); the default fits a million positions."
  type        = string
  default     = "2GiB"
}

variable "body_idle_seconds" {
  description = "How long a position upload's body may stall before it fails with 408 (IPRS_BODY_IDLE_SECONDS)."
  type        = number
  default     = 30

  validation {
    condition     = var.body_idle_seconds >= 1 && var.body_idle_seconds <= 3600 && floor(var.body_idle_seconds) == var.body_idle_seconds
    error_message = "body_idle_seconds must be a whole number from 1 to 3600."
  }
}

# --- Load balancer ---------------------------------------------------------

variable "enable_https" {
  description = "Serve HTTPS on port 443 with acm_certificate_arn and redirect HTTP to it (production)."
  type        = bool
  default     = false
}

variable "acm_certificate_arn" {
  description = "ARN of the ACM certificate of the HTTPS listener; required when enable_https is true."
  type        = string
  default     = ""
}
