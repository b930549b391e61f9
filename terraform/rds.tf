# Database: an Aurora PostgreSQL 15 cluster in the private subnets, an RDS
# Proxy in front of it, and the Secrets Manager secrets that carry the
# credentials: one for the proxy (user name and password) and one with the
# full DATABASE_URL the services read at task start.

resource "aws_db_subnet_group" "main" {
  name        = "${local.name_prefix}-aurora"
  description = "Private subnets of the IPRS Aurora cluster"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_rds_cluster" "main" {
  cluster_identifier = "${local.name_prefix}-aurora"
  engine             = "aurora-postgresql"
  engine_mode        = "provisioned"
  engine_version     = var.db_engine_version
  database_name      = var.db_name
  master_username    = var.db_master_username
  master_password    = var.db_master_password
  port               = local.db_port

  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  availability_zones     = var.availability_zones

  storage_encrypted                   = true
  iam_database_authentication_enabled = false
  enabled_cloudwatch_logs_exports     = ["postgresql"]

  backup_retention_period      = var.db_backup_retention_days
  preferred_backup_window      = "03:00-04:00"
  preferred_maintenance_window = "sun:05:00-sun:06:00"
  copy_tags_to_snapshot        = true

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = "${local.name_prefix}-aurora-final"

  lifecycle {
    # AWS may place the cluster in more zones than listed; do not replace
    # the cluster over it.
    ignore_changes = [availability_zones]
  }
}

# One writer and (db_instance_count - 1) readers; Aurora fails over to a
# reader in another zone when the writer's zone is lost.
resource "aws_rds_cluster_instance" "main" {
  count = var.db_instance_count

  identifier                 = "${local.name_prefix}-aurora-${count.index}"
  cluster_identifier         = aws_rds_cluster.main.id
  engine                     = aws_rds_cluster.main.engine
  engine_version             = aws_rds_cluster.main.engine_version
  instance_class             = var.db_instance_class
  db_subnet_group_name       = aws_db_subnet_group.main.name
  publicly_accessible        = false
  auto_minor_version_upgrade = true
}

# --- Secrets ----------------------------------------------------------------

# Credentials the RDS Proxy logs in to Aurora with, in the JSON shape Secrets
# Manager uses for RDS.
resource "aws_secretsmanager_secret" "db_credentials" {
  name                    = "${local.name_prefix}/aurora/master"
  description             = "Master credentials of the IPRS Aurora cluster, used by the RDS Proxy"
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

resource "aws_secretsmanager_secret_version" "db_credentials" {
  secret_id = aws_secretsmanager_secret.db_credentials.id
  secret_string = jsonencode({
    engine   = "postgres"
    username = var.db_master_username
    password = var.db_master_password
    host     = aws_rds_cluster.main.endpoint
    port     = local.db_port
    dbname   = var.db_name
  })
}

# The DATABASE_URL every container receives through its task definition's
# `secrets`: the RDS Proxy endpoint, TLS required.
resource "aws_secretsmanager_secret" "database_url" {
  name                    = "${local.name_prefix}/database-url"
  description             = "DATABASE_URL of the IPRS services (PostgreSQL through the RDS Proxy)"
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

locals {
  # The services' connection string: through the RDS Proxy, TLS required.
  database_url = "postgres://${urlencode(var.db_master_username)}:${urlencode(var.db_master_password)}@${aws_db_proxy.main.endpoint}:${local.db_port}/${var.db_name}?sslmode=require"
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = local.database_url
}

# Bearer tokens of the API (IPRS_API_TOKENS), when api_tokens is set.
resource "aws_secretsmanager_secret" "api_tokens" {
  count = var.api_tokens == "" ? 0 : 1

  name                    = "${local.name_prefix}/api-tokens"
  description             = "IPRS_API_TOKENS of the IPRS services"
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

resource "aws_secretsmanager_secret_version" "api_tokens" {
  count = var.api_tokens == "" ? 0 : 1

  secret_id     = aws_secretsmanager_secret.api_tokens[0].id
  secret_string = var.api_tokens
}

# --- RDS Proxy ----------------------------------------------------------------

data "aws_iam_policy_document" "rds_proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

# The proxy may read the one secret it logs in with, nothing else.
data "aws_iam_policy_document" "rds_proxy" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.db_credentials.arn]
  }
}

resource "aws_iam_role" "rds_proxy" {
  name               = "${local.name_prefix}-rds-proxy"
  assume_role_policy = data.aws_iam_policy_document.rds_proxy_assume.json
}

resource "aws_iam_role_policy" "rds_proxy" {
  name   = "read-db-credentials"
  role   = aws_iam_role.rds_proxy.id
  policy = data.aws_iam_policy_document.rds_proxy.json
}

resource "aws_db_proxy" "main" {
  name                   = "${local.name_prefix}-proxy"
  engine_family          = "POSTGRESQL"
  role_arn               = aws_iam_role.rds_proxy.arn
  vpc_subnet_ids         = aws_subnet.private[*].id
  vpc_security_group_ids = [aws_security_group.rds_proxy.id]
  require_tls            = true
  idle_client_timeout    = 1800
  debug_logging          = false

  auth {
    auth_scheme               = "SECRETS"
    secret_arn                = aws_secretsmanager_secret.db_credentials.arn
    iam_auth                  = "DISABLED"
    client_password_auth_type = "POSTGRES_SCRAM_SHA_256"
    description               = "Aurora master credentials"
  }

  depends_on = [aws_iam_role_policy.rds_proxy]
}

resource "aws_db_proxy_default_target_group" "main" {
  db_proxy_name = aws_db_proxy.main.name

  connection_pool_config {
    max_connections_percent      = 90
    max_idle_connections_percent = 50
    connection_borrow_timeout    = 120
  }
}

resource "aws_db_proxy_target" "main" {
  db_proxy_name         = aws_db_proxy.main.name
  target_group_name     = aws_db_proxy_default_target_group.main.name
  db_cluster_identifier = aws_rds_cluster.main.cluster_identifier

  # The proxy can register the cluster only once an instance is up.
  depends_on = [aws_rds_cluster_instance.main]
}
