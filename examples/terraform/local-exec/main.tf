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

resource "terraform_data" "wait_for_jobs" {
  triggers_replace = terraform_data.jobs_started.output

  provisioner "local-exec" {
    command = "jobwait wait --report jobwait-report.json"
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
