# Outputs: where the services answer, where the images go, how to reach the
# database, and the ids the one-off migration task needs.

output "alb_dns_name" {
  description = "DNS name of the load balancer; the services answer under their prefixes (/mkt, /orch, /results)."
  value       = aws_lb.main.dns_name
}

output "service_urls" {
  description = "Base URL of each API service behind the load balancer."
  value = {
    for name, svc in local.public_services :
    name => "${var.enable_https ? "https" : "http"}://${aws_lb.main.dns_name}${trimsuffix(svc.route_pattern, "/*")}"
  }
}

output "rds_proxy_endpoint" {
  description = "Endpoint of the RDS Proxy the services connect to (port 5432, TLS required)."
  value       = aws_db_proxy.main.endpoint
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each service's image."
  value       = { for name, repo in aws_ecr_repository.service : name => repo.repository_url }
}

output "database_url" {
  description = "PostgreSQL connection string of the services (through the RDS Proxy, sslmode=require). Reachable only from inside the VPC."
  value       = local.database_url
  sensitive   = true
}

output "database_url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding DATABASE_URL."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "aws_region" {
  description = "Region the infrastructure is in."
  value       = var.aws_region
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "cloudwatch_log_group" {
  description = "CloudWatch log group of every container (stream prefix = service name, or migrate)."
  value       = aws_cloudwatch_log_group.ecs.name
}

output "private_subnet_ids" {
  description = "Private subnets the tasks run in; the migration task needs them."
  value       = aws_subnet.private[*].id
}

output "ecs_security_group_id" {
  description = "Security group of the ECS tasks; the migration task needs it to reach the RDS Proxy."
  value       = aws_security_group.ecs.id
}

output "migrate_task_definition_arn" {
  description = "Task definition of the one-off `iprs migrate` task."
  value       = aws_ecs_task_definition.migrate.arn
}

output "migrate_command" {
  description = "The aws ecs run-task command that applies the schema from inside the VPC."
  value = join(" ", [
    "aws ecs run-task",
    "--region ${var.aws_region}",
    "--cluster ${aws_ecs_cluster.main.name}",
    "--launch-type FARGATE",
    "--task-definition ${aws_ecs_task_definition.migrate.arn}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", aws_subnet.private[*].id)}],securityGroups=[${aws_security_group.ecs.id}],assignPublicIp=DISABLED}'",
  ])
}
