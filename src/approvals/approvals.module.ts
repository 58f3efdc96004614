import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { ApprovalExpiry } from './approval-expiry.service.js';
import { ApprovalsController } from './approvals.controller.js';
import { ApprovalsRepository } from './approvals.repository.js';
import { ApprovalsService } from './approvals.service.js';

/** Tool calls that wait for a person's decision: the records, the decisions, their expiry. */
@Module({
  imports: [ConversationsModule, AuditModule],
  controllers: [ApprovalsController],
  providers: [ApprovalsRepository, ApprovalsService, ApprovalExpiry],
  exports: [ApprovalsRepository, ApprovalsService],
})
export class ApprovalsModule {}
