# Build, test and ship IPRS.
#
#   make build                 static binary bin/iprs (CGO_ENABLED=0)
#   make test                  go test ./...
#   make images                one image per service: docker build --target <service>
#   make push AWS_ACCOUNT_ID=123456789012 AWS_REGION=us-east-1
#                              log in to ECR, tag and push iprs-<service>:$(IMAGE_TAG)
#   make migrate-aws           run `iprs migrate` as a one-off ECS task and wait for it
#   make deploy-aws            roll the ECS services onto the pushed images
#   make tf-fmt                terraform fmt -check -recursive terraform
#
# The AWS targets read the ids they need from `terraform output`, so run
# them after `terraform apply` in terraform/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
DOCKER    ?= docker
AWS       ?= aws
TERRAFORM ?= terraform

PROJECT        ?= iprs
SERVICES       := marketdata orchestrator results worker
VERSION        ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_TAG      ?= latest
PLATFORM       ?= linux/amd64
AWS_REGION     ?= us-east-1
AWS_ACCOUNT_ID ?=
ECR_REGISTRY    = $(AWS_ACCOUNT_ID).dkr.ecr.$(AWS_REGION).amazonaws.com
TF_DIR         := terraform
TF_OUTPUT       = $(TERRAFORM) -chdir=$(TF_DIR) output -raw

IMAGE_TARGETS := $(addprefix image-,$(SERVICES))
PUSH_TARGETS  := $(addprefix push-,$(SERVICES))

.PHONY: build test vet tf-fmt images push ecr-login migrate-aws deploy-aws clean \
	$(IMAGE_TARGETS) $(PUSH_TARGETS)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/iprs ./cmd/iprs

test:
	$(GO) test ./...

vet:
	$(GO) vet ./...

tf-fmt:
	$(TERRAFORM) fmt -check -recursive $(TF_DIR)

# --- images -----------------------------------------------------------------

images: $(IMAGE_TARGETS)

$(IMAGE_TARGETS): image-%:
	$(DOCKER) build --platform $(PLATFORM) --build-arg VERSION=$(VERSION) --target $* -t $(PROJECT)-$*:$(IMAGE_TAG) .

ecr-login:
	$(if $(AWS_ACCOUNT_ID),,$(error AWS_ACCOUNT_ID is required, e.g. make push AWS_ACCOUNT_ID=123456789012 AWS_REGION=us-east-1))
	$(AWS) ecr get-login-password --region $(AWS_REGION) | $(DOCKER) login --username AWS --password-stdin $(ECR_REGISTRY)

push: $(PUSH_TARGETS)

$(PUSH_TARGETS): push-%: ecr-login image-%
	$(DOCKER) tag $(PROJECT)-$*:$(IMAGE_TAG) $(ECR_REGISTRY)/$(PROJECT)-$*:$(IMAGE_TAG)
	$(DOCKER) push $(ECR_REGISTRY)/$(PROJECT)-$*:$(IMAGE_TAG)

# --- AWS operations -----------------------------------------------------------

# The database is private: the schema is applied from inside the VPC by a
# one-off Fargate task running `iprs migrate` (task definition <env>-migrate).
migrate-aws:
	region="$$($(TF_OUTPUT) aws_region)"; \
	cluster="$$($(TF_OUTPUT) ecs_cluster_name)"; \
	taskdef="$$($(TF_OUTPUT) migrate_task_definition_arn)"; \
	subnets="$$($(TERRAFORM) -chdir=$(TF_DIR) output -json private_subnet_ids | tr -d '[]" \n')"; \
	sg="$$($(TF_OUTPUT) ecs_security_group_id)"; \
	task="$$($(AWS) ecs run-task --region "$$region" --cluster "$$cluster" --launch-type FARGATE \
		--task-definition "$$taskdef" \
		--network-configuration "awsvpcConfiguration={subnets=[$$subnets],securityGroups=[$$sg],assignPublicIp=DISABLED}" \
		--query 'tasks[0].taskArn' --output text)"; \
	if [ -z "$$task" ] || [ "$$task" = None ]; then echo "migration task did not start" >&2; exit 1; fi; \
	echo "migration task $$task started; waiting for it to stop"; \
	$(AWS) ecs wait tasks-stopped --region "$$region" --cluster "$$cluster" --tasks "$$task"; \
	code="$$($(AWS) ecs describe-tasks --region "$$region" --cluster "$$cluster" --tasks "$$task" \
		--query 'tasks[0].containers[0].exitCode' --output text)"; \
	echo "iprs migrate exited with status $$code (logs: aws logs tail $$($(TF_OUTPUT) cloudwatch_log_group) --log-stream-name-prefix migrate)"; \
	[ "$$code" = 0 ]

deploy-aws:
	region="$$($(TF_OUTPUT) aws_region)"; \
	cluster="$$($(TF_OUTPUT) ecs_cluster_name)"; \
	for svc in $(SERVICES); do \
		$(AWS) ecs update-service --region "$$region" --cluster "$$cluster" --service "$$svc" \
			--force-new-deployment --query 'service.serviceName' --output text; \
	done

clean:
	rm -rf bin
