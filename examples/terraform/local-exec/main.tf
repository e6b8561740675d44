# Wait on the jobs of an earlier resource during apply, and fail the apply when a job fails.
# `terraform_data` is built into Terraform (>= 1.4): `terraform init` needs no download.
# In a real configuration `job_ids` comes from the resource that started the jobs.
variable "job_ids" {
  description = "Job ids as [SERVICE:]JOB_ID, e.g. from an earlier resource's attributes."
  type        = list(string)
}

variable "endpoint" {
  description = "Endpoint template or URL (empty: cloud + region below)."
  default     = ""
}

variable "project_id" { type = string }

variable "timeout" {
  description = "How long the apply waits for the jobs."
  default     = "20m"
}

resource "terraform_data" "jobs_started" {
  input = var.job_ids
}

locals {
  # Next to this file, where a later plan on this machine finds it; keep it out of version
  # control (it names what the jobs created).
  report_path = "${path.module}/jobwait-report.json"
}

resource "terraform_data" "wait_for_jobs" {
  triggers_replace = terraform_data.jobs_started.output
  # Its `output` is unknown until this resource is (re)created, which holds back the outputs
  # below that read the report until jobwait has written it.
  input = local.report_path

  provisioner "local-exec" {
    # The apply log gets jobwait's short text table and its summary line (`failure (exit 1): …`),
    # not the whole JSON document; the JSON goes to the report file for the outputs below. No jq
    # needed: Terraform reads it with jsondecode(file(…)).
    command = "jobwait wait --output text --report ${local.report_path}"
    environment = {
      JOBWAIT_JOBS       = join(",", terraform_data.jobs_started.output)
      JOBWAIT_PROJECT_ID = var.project_id
      JOBWAIT_ENDPOINT   = var.endpoint
      JOBWAIT_CLOUD      = var.endpoint == "" ? "otc" : ""
      JOBWAIT_REGION     = var.endpoint == "" ? "eu-de" : ""
      JOBWAIT_TIMEOUT    = var.timeout
    }
  }
}

# The report is a file on the machine that ran the apply, not state: where it is missing (a fresh
# CI checkout), the outputs are empty instead of failing the plan.
locals {
  report = try(jsondecode(file(terraform_data.wait_for_jobs.output)), null)
}

output "result" {
  description = "success, failure, … (the report's result)."
  value       = try(local.report.result, null)
}

# The ids the jobs created, by entity kind (`server_id`, `volume_id`, …): what later resources
# need; [] for a kind these jobs did not create.
output "server_ids" {
  value = try(local.report.entities.server_id, [])
}

output "volume_ids" {
  value = try(local.report.entities.volume_id, [])
}
