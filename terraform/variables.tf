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
  description = "Number of worker tasks. Workers claim tasks from the database, so any number may run at once."
  type        = number
  default     = 1
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
  description = "Comma-separated bearer tokens the services require on every route but health (IPRS_API_TOKENS). Empty: no authentication. Stored in Secrets Manager."
  type        = string
  default     = ""
  sensitive   = true
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
